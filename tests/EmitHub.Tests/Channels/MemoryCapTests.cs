using System.Net;
using EmitHub.Core.Channels;
using EmitHub.Core.Configuration;
using EmitHub.Tests.Infrastructure;
using static EmitHub.Tests.Channels.ChannelTestKit;

namespace EmitHub.Tests.Channels;

/// <summary>Each memory cap reachable through the API, driven past its limit (issue 9).</summary>
public class MemoryCapTests
{
    [Fact]
    public async Task Creating_past_max_channels_is_409_naming_the_limit_until_a_channel_is_deleted()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.MaxChannels = 3);
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var created = await hub.Client.SendAsync(TestHubServer.Request(HttpMethod.Post, "/api/v1/channels", """{"name":"c"}"""));
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            ids.Add(System.Text.Json.JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!);
        }

        var refused = await hub.Client.SendAsync(TestHubServer.Request(HttpMethod.Post, "/api/v1/channels", """{"name":"one too many"}"""));

        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        var error = System.Text.Json.JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("max_channels_reached", error.GetProperty("code").GetString());
        Assert.Equal("The server already holds 3 channels, its max_channels limit of 3; delete a channel or raise max_channels.",
            error.GetProperty("error").GetString());
        Assert.Equal(3, hub.Registry.List().Count);

        Assert.Equal(HttpStatusCode.NoContent, (await hub.Client.DeleteAsync($"/api/v1/channels/{ids[0]}")).StatusCode);
        var again = await hub.Client.SendAsync(TestHubServer.Request(HttpMethod.Post, "/api/v1/channels", """{"name":"c"}"""));
        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
    }

    [Fact]
    public async Task Concurrent_creates_never_pass_max_channels()
    {
        var registry = NewRegistry(options: new EmitHubOptions { MaxChannels = 10 });
        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => Task.Run(async () =>
            await registry.CreateAsync(new ChannelCreateRequest("c", null, new ChannelSettingsPatch()), default))));

        Assert.Equal(10, results.Count(r => r.IsSuccess));
        Assert.All(results.Where(r => !r.IsSuccess), r => Assert.Equal("max_channels_reached", r.Code));
        Assert.Equal(10, registry.List().Count);
    }

    [Fact]
    public async Task The_replay_last_caches_of_all_channels_together_stay_under_replay_last_max_bytes()
    {
        const long cap = 8 * 1024;
        var registry = NewRegistry(options: new EmitHubOptions { ReplayLastMaxBytes = cap });
        var first = await CreateAsync(registry, """{"name":"a","settings":{"replay_last":100,"rate_limit_per_minute":0}}""");
        var second = await CreateAsync(registry, """{"name":"b","settings":{"replay_last":100,"rate_limit_per_minute":0}}""");
        await registry.StartAsync(first.Id, default);
        await registry.StartAsync(second.Id, default);
        var kilobyte = new string('x', 1000);

        for (var i = 1; i <= 20; i++)
        {
            await registry.BroadcastAsync(first.Id, Broadcast($"{i}:{kilobyte}"), default);
        }

        Assert.InRange(registry.ReplayLastBytes, cap - 1100, cap);
        // The first channel keeps its newest broadcasts, as many as the cap holds, in order.
        var client = new RecordingSubscriber();
        await registry.SubscribeAsync(first.Id, client, null, null, default);
        var replayed = client.All.Skip(1).Select(e => e.GetProperty("sequence").GetInt64()).ToList();
        Assert.InRange(replayed.Count, 5, 8);
        Assert.Equal(Enumerable.Range(21 - replayed.Count, replayed.Count).Select(i => (long)i), replayed);

        // The cap is server-wide: the first channel's cache already fills it, so the second holds nothing.
        await registry.BroadcastAsync(second.Id, Broadcast(kilobyte), default);
        var other = new RecordingSubscriber();
        await registry.SubscribeAsync(second.Id, other, null, null, default);
        Assert.Equal(["connected"], other.Statuses);
        Assert.True(registry.ReplayLastBytes <= cap);

        // Deleting the first channel gives its bytes back.
        await registry.DeleteAsync(first.Id, default);
        Assert.Equal(0, registry.ReplayLastBytes);
    }

    [Fact]
    public async Task The_catch_up_rings_stay_under_catch_up_ring_max_bytes_and_clients_still_recover_everything_from_the_store()
    {
        const long cap = 8 * 1024;
        var registry = NewRegistry(options: new EmitHubOptions { CatchUpRingMaxBytes = cap });
        var channel = await CreateAsync(registry, """{"name":"p","settings":{"persist_messages":true,"rate_limit_per_minute":0}}""");
        await registry.StartAsync(channel.Id, default);
        var kilobyte = new string('x', 1000);

        for (var i = 1; i <= 30; i++)
        {
            await registry.BroadcastAsync(channel.Id, Broadcast($"{i}:{kilobyte}"), default);
        }

        Assert.InRange(registry.CatchUpRingBytes, cap - 1100, cap);
        var client = new RecordingSubscriber();
        var joined = await registry.SubscribeAsync(channel.Id, client, 2, null, default);
        Assert.Equal(SubscribeOutcome.Connected, joined.Outcome);
        Assert.True(client.All[0].GetProperty("data").GetProperty("recovered").GetBoolean());
        Assert.Equal(Enumerable.Range(3, 28).Select(i => (long)i), client.All.Skip(1).Select(e => e.GetProperty("sequence").GetInt64()));
    }
}
