using EmitHub.Core.Channels;
using EmitHub.Tests.Channels;
using static EmitHub.Tests.Channels.ChannelTestKit;

namespace EmitHub.Tests.Cluster;

/// <summary>
/// The registry's side of "a node follows only the channels its clients are on" (issue 11), on the in-memory store
/// of record (unfollow at once, no linger): a subscription holds a follow lease for as long as it lives, whichever way
/// it ends; a refused join never takes one; a re-follow rebuilds the node's caches from the store.
/// </summary>
public class ClusterFollowLeaseTests
{
    [Fact]
    public async Task Every_way_a_subscriber_leaves_releases_its_lease_and_a_refused_join_takes_none()
    {
        var cluster = new InMemoryClusterStore();
        var registry = NewRegistry(cluster);
        var id = (await CreateAsync(registry, """{"name":"Caja","settings":{"max_connections":1}}""")).Id;
        Assert.True((await registry.StartAsync(id, default)).IsSuccess);

        // Leaves by itself (the connection ended).
        var first = await JoinAsync(registry, id);
        Assert.Equal(1, cluster.LeasesOn(id));
        Assert.Equal(1, cluster.FollowedChannels);
        var full = new RecordingSubscriber();
        Assert.Equal(SubscribeOutcome.Full, (await registry.SubscribeAsync(id, full, null, null, default)).Outcome);
        Assert.Equal(1, cluster.LeasesOn(id));
        first.Dispose();
        Assert.Equal(0, cluster.LeasesOn(id));
        Assert.Equal(0, cluster.FollowedChannels);
        Assert.Equal(1, cluster.FollowsStopped);

        // A join on a paused channel is denied without following it.
        Assert.True((await registry.PauseAsync(id, default)).IsSuccess);
        Assert.Equal(SubscribeOutcome.NotActive, (await registry.SubscribeAsync(id, new RecordingSubscriber(), null, null, default)).Outcome);
        Assert.Equal(0, cluster.FollowedChannels);
        Assert.Equal(1, cluster.FollowsStarted);

        // Stopped: the hub lets the subscriber go at once; its lease goes when its connection ends.
        Assert.True((await registry.StartAsync(id, default)).IsSuccess);
        var stopped = await JoinAsync(registry, id);
        Assert.Equal(2, cluster.FollowsStarted);
        Assert.True((await registry.StopAsync(id, default)).IsSuccess);
        Assert.Equal(1, cluster.LeasesOn(id));
        stopped.Dispose();
        Assert.Equal(0, cluster.LeasesOn(id));
        Assert.Equal(0, cluster.FollowedChannels);

        // Deleted: the same, and nothing follows it afterwards.
        Assert.True((await registry.StartAsync(id, default)).IsSuccess);
        var deleted = await JoinAsync(registry, id);
        Assert.True((await registry.DeleteAsync(id, default)).IsSuccess);
        deleted.Dispose();
        Assert.Equal(0, cluster.LeasesOn(id));
        Assert.Equal(0, cluster.FollowedChannels);
        Assert.Equal(SubscribeOutcome.NotFound, (await registry.SubscribeAsync(id, new RecordingSubscriber(), null, null, default)).Outcome);
        Assert.Equal(3, cluster.FollowsStarted);
    }

    [Fact]
    public async Task Replay_last_after_a_refollow_shows_the_messages_stored_while_the_node_did_not_follow()
    {
        var cluster = new InMemoryClusterStore();
        var registry = NewRegistry(cluster);
        var id = (await CreateAsync(registry, """{"name":"Turnos","settings":{"replay_last":3,"rate_limit_per_minute":0}}""")).Id;
        Assert.True((await registry.StartAsync(id, default)).IsSuccess);
        var first = await JoinAsync(registry, id);
        foreach (var text in new[] { "A1", "A2" })
        {
            Assert.Equal(ChannelError.None, (await registry.BroadcastAsync(id, Broadcast(text), default)).Error);
        }
        first.Dispose();
        Assert.Equal(0, cluster.FollowedChannels);
        // Broadcast through this node while unfollowed: stored, but this node's caches only learn of it by following.
        foreach (var text in new[] { "B1", "B2", "B3" })
        {
            Assert.Equal(ChannelError.None, (await registry.BroadcastAsync(id, Broadcast(text), default)).Error);
        }

        var subscriber = new RecordingSubscriber();
        using var again = (await registry.SubscribeAsync(id, subscriber, null, null, default)).Subscription!;
        Assert.Equal(["connected", "broadcast", "broadcast", "broadcast"], subscriber.Statuses);
        Assert.Equal(5, subscriber.All[0].GetProperty("data").GetProperty("last_sequence").GetInt64());
        Assert.Equal(["B1", "B2", "B3"], subscriber.All.Skip(1).Select(e => e.GetProperty("message").GetString()));
        Assert.Equal([3L, 4L, 5L], subscriber.All.Skip(1).Select(e => e.GetProperty("sequence").GetInt64()));
    }

    private static async Task<Subscription> JoinAsync(ChannelRegistry registry, Guid id)
    {
        var result = await registry.SubscribeAsync(id, new RecordingSubscriber(), null, null, default);
        Assert.Equal(SubscribeOutcome.Connected, result.Outcome);
        return result.Subscription!;
    }
}
