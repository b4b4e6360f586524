using EmitHub.Core.Channels;
using EmitHub.Net.Api;
using static EmitHub.Tests.Channels.ChannelTestKit;

namespace EmitHub.Tests.Channels;

public class ReplayLastPatchRegressionTests
{
    [Fact]
    public async Task Raising_replay_last_on_a_persisting_channel_fills_the_cache_from_the_store_at_once()
    {
        // Round 1: the cache started empty after the PATCH, so a new client got nothing until new broadcasts came.
        var registry = NewRegistry();
        var channel = await CreateAsync(registry, """{"name":"p","settings":{"persist_messages":true,"allow_client_messages":true,"rate_limit_per_minute":0}}""");
        await registry.StartAsync(channel.Id, default);
        for (var i = 1; i <= 5; i++)
        {
            await registry.BroadcastAsync(channel.Id, Broadcast($"m{i}"), default);
        }
        // A client message between broadcasts is stored too, but replay_last replays broadcasts only.
        var chatter = new RecordingSubscriber();
        var chat = (await registry.SubscribeAsync(channel.Id, chatter, null, null, default)).Subscription!;
        chat.OnClientText("hello");
        await registry.BroadcastAsync(channel.Id, Broadcast("m7"), default);

        Assert.True(ChannelRequests.TryParsePatch("""{"settings":{"replay_last":3}}"""u8, out var patch, out _));
        Assert.True((await registry.UpdateAsync(channel.Id, patch!, default)).IsSuccess);
        var client = new RecordingSubscriber();
        await registry.SubscribeAsync(channel.Id, client, null, null, default);

        Assert.Equal(["connected", "broadcast", "broadcast", "broadcast"], client.Statuses);
        Assert.Equal(["m4", "m5", "m7"], client.All.Skip(1).Select(e => e.GetProperty("message").GetString()));
        Assert.Equal([4L, 5L, 7L], client.All.Skip(1).Select(e => e.GetProperty("sequence").GetInt64()));
    }
}
