using EmitHub.Core.Channels;
using EmitHub.Core.Fanout;
using static EmitHub.Tests.Channels.ChannelTestKit;

namespace EmitHub.Tests.Channels;

/// <summary>Status changes that happen while a client catches up from the store (<c>?after=</c>) reach it too.</summary>
public class ChannelCatchUpTests
{
    /// <summary>More than the in-memory ring holds (256), so <c>?after=0</c> catches up from the store.</summary>
    private const int Stored = 300;

    private static async Task<(ChannelRegistry Registry, Guid Id)> PersistingChannelWithHistoryAsync()
    {
        var registry = NewRegistry();
        return (registry, await CreatePersistingChannelWithHistoryAsync(registry, Stored));
    }

    [Fact]
    public async Task A_pause_during_the_catch_up_reaches_the_joining_client_after_its_replay()
    {
        var (registry, id) = await PersistingChannelWithHistoryAsync();
        var client = new RecordingSubscriber { };
        client.OnCatchUpStarted = async () => Assert.True((await registry.PauseAsync(id, default)).IsSuccess);

        var joined = await registry.SubscribeAsync(id, client, 0, null, default);

        Assert.Equal(SubscribeOutcome.Connected, joined.Outcome);
        var statuses = client.Statuses;
        Assert.Equal(Stored + 2, statuses.Count);
        Assert.Equal("connected", statuses[0]);
        Assert.All(statuses.Skip(1).Take(Stored), s => Assert.Equal("broadcast", s));
        Assert.Equal("paused", statuses[^1]);
        Assert.Equal("Channel p is paused", client.All[^1].GetProperty("message").GetString());

        // And the resume that follows reaches it live, as a member.
        await registry.StartAsync(id, default);
        Assert.Equal("resumed", client.Statuses[^1]);
        Assert.Null(client.CloseCode);
    }

    [Fact]
    public async Task A_pause_and_resume_during_the_catch_up_leave_the_joining_client_active_without_notices()
    {
        var (registry, id) = await PersistingChannelWithHistoryAsync();
        var client = new RecordingSubscriber();
        client.OnCatchUpStarted = async () =>
        {
            await registry.PauseAsync(id, default);
            await registry.StartAsync(id, default);
        };

        var joined = await registry.SubscribeAsync(id, client, 0, null, default);

        Assert.Equal(SubscribeOutcome.Connected, joined.Outcome);
        Assert.Equal(["connected", .. Enumerable.Repeat("broadcast", Stored)], client.Statuses);
    }

    [Fact]
    public async Task A_stop_and_restart_during_the_catch_up_sends_stopped_then_closes_1001()
    {
        var (registry, id) = await PersistingChannelWithHistoryAsync();
        var client = new RecordingSubscriber();
        client.OnCatchUpStarted = async () =>
        {
            await registry.StopAsync(id, default);
            await registry.StartAsync(id, default);
        };

        var joined = await registry.SubscribeAsync(id, client, 0, null, default);

        Assert.Equal(SubscribeOutcome.Failed, joined.Outcome);
        Assert.Equal("stopped", client.Statuses[^1]);
        Assert.Equal((ushort)1001, client.CloseCode);
        Assert.Equal(SubscriberCloseReason.ChannelStopped, client.CloseKind);
        Assert.Equal(0, registry.Get(id)!.Stats.Connections);
    }

    [Fact]
    public async Task A_delete_during_the_catch_up_sends_stopped_then_closes_1001()
    {
        var (registry, id) = await PersistingChannelWithHistoryAsync();
        var client = new RecordingSubscriber();
        client.OnCatchUpStarted = async () => await registry.DeleteAsync(id, default);

        var joined = await registry.SubscribeAsync(id, client, 0, null, default);

        Assert.Equal(SubscribeOutcome.Failed, joined.Outcome);
        Assert.Equal("stopped", client.Statuses[^1]);
        Assert.Equal((ushort)1001, client.CloseCode);
        Assert.Equal(SubscriberCloseReason.ChannelDeleted, client.CloseKind);
    }
}
