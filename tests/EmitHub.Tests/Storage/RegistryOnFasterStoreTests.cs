using System.Text.Json;
using EmitHub.Core.Channels;
using EmitHub.Tests.Channels;
using static EmitHub.Tests.Storage.StoreTestSupport;

namespace EmitHub.Tests.Storage;

/// <summary>The channel registry over the FASTER store: what a server restart must preserve (SPEC §5, §6).</summary>
public sealed class RegistryOnFasterStoreTests
{
    [Fact]
    public async Task Channels_history_and_sequences_survive_a_restart_of_the_registry()
    {
        using var dir = new TempStoreDirectory();
        ChannelSnapshot created;
        var store = new Core.Storage.FasterChannelStore(Options(dir.Path));
        await using (store)
        {
            var registry = ChannelTestKit.NewRegistry(store);
            created = await ChannelTestKit.CreateAsync(registry, """{"name":"Turnos","settings":{"persist_messages":true,"replay_last":2}}""");
            Assert.True((await registry.StartAsync(created.Id, default)).IsSuccess);
            for (var i = 1; i <= 5; i++)
            {
                var result = await registry.BroadcastAsync(created.Id, ChannelTestKit.Broadcast($"A00{i}"), default);
                Assert.True(result.IsSuccess);
                Assert.Equal(i, result.Ack!.Sequence);
            }
            await registry.ShutdownAsync(default);
        }

        var reopened = new Core.Storage.FasterChannelStore(Options(dir.Path));
        await using (reopened)
        {
            var registry = ChannelTestKit.NewRegistry(reopened);
            Assert.True(registry.IsReady);
            var channel = registry.Get(created.Id)!;
            Assert.Equal(ChannelStatus.Active, channel.Status);
            Assert.Equal(created.Name, channel.Name);

            var history = await registry.GetMessagesAsync(created.Id, 2, 100, default);
            Assert.True(history.IsSuccess);
            var contents = history.Envelopes.Select(e => JsonDocument.Parse(e).RootElement.GetProperty("message").GetString()).ToList();
            Assert.Equal(["A003", "A004", "A005"], contents);
            Assert.Equal(5, history.NextAfter);

            var next = await registry.BroadcastAsync(created.Id, ChannelTestKit.Broadcast("A006"), default);
            Assert.Equal(6, next.Ack!.Sequence);
        }
    }
}
