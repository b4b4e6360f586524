using System.Net.WebSockets;
using System.Text.Json;
using EmitHub.Tests.Metrics;
using EmitHub.Tests.Persistence;
using Xunit.Abstractions;

namespace EmitHub.Tests.Cluster;

/// <summary>
/// A node follows only the channels its clients are on (issue 11): after its last local client left it stops
/// consuming the channel's stream once <c>[cluster] unfollow_delay</c> ran out, and a client that comes back is
/// served from the right sequence — what other nodes broadcast meanwhile, in order, no gap, no duplicate, then live
/// messages. Observed through <c>/metrics</c> (<c>emithub_cluster_followed_channels</c>,
/// <c>emithub_cluster_follows_started_total</c>, <c>emithub_cluster_follows_stopped_total</c>).
/// </summary>
[Collection(PersistenceProcessCollection.Name)]
public sealed class ClusterUnfollowTests(ITestOutputHelper output) : ClusterTestBase(output)
{
    private const string Followed = "emithub_cluster_followed_channels";
    private const string Started = "emithub_cluster_follows_started_total";
    private const string Stopped = "emithub_cluster_follows_stopped_total";

    /// <summary>More than the catch-up ring (256): the returning client is served from the stream, then the ring.</summary>
    private const int BroadcastWhileUnfollowed = 300;

    [Fact]
    public async Task A_node_whose_last_client_left_stops_following_and_a_returning_client_gets_what_another_node_broadcast_meanwhile_then_live()
    {
        await StartNatsAsync();
        await StartNodesAsync(extraEnvironment: Delay(1));
        var id = await CreateActiveChannelEverywhereAsync(A, "unfollow", persist: true);
        var before = await MetricsAsync(B);
        Assert.Equal(0, before[Followed]);
        Assert.Equal(0, before[Started]);

        var (first, connected) = await JoinAsync(B, id);
        var epoch = connected.GetProperty("data").GetProperty("epoch").GetString()!;
        var joined = await MetricsAsync(B);
        Assert.Equal(1, joined[Followed]);
        Assert.Equal(1, joined[Started]);
        var acks = new List<Ack>();
        for (var i = 1; i <= 5; i++)
        {
            acks.Add(await A.BroadcastAsync(id, $"before-{i}"));
        }
        await ExpectAsync(first, acks, 1, 5);

        // The last client leaves: after the delay, B no longer consumes the channel's stream.
        await first.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        first.Dispose();
        await EventuallyAsync(async () => (await MetricsAsync(B))[Followed] == 0, "B stopped following");
        var left = await MetricsAsync(B);
        Assert.Equal(1, left[Stopped]);
        Assert.Equal(1, left[Started]);

        // Meanwhile A broadcasts; B does not start following because of it.
        for (var i = 1; i <= BroadcastWhileUnfollowed; i++)
        {
            acks.Add(await A.BroadcastAsync(id, $"meanwhile-{i}"));
        }
        Assert.Equal(Enumerable.Range(1, 5 + BroadcastWhileUnfollowed).Select(i => (long)i), acks.Select(a => a.Sequence));
        var unfollowed = await MetricsAsync(B);
        Assert.Equal(0, unfollowed[Followed]);
        Assert.Equal(1, unfollowed[Started]);

        // The client comes back with ?after=5: every message of A from 6, in order, then live ones.
        var (back, again) = await JoinAsync(B, id, $"?after=5&epoch={epoch}");
        Assert.True(again.GetProperty("data").GetProperty("recovered").GetBoolean(), again.GetRawText());
        Assert.Equal(5 + BroadcastWhileUnfollowed, again.GetProperty("data").GetProperty("last_sequence").GetInt64());
        var refollowed = await MetricsAsync(B);
        Assert.Equal(1, refollowed[Followed]);
        Assert.Equal(2, refollowed[Started]);
        await ExpectAsync(back, acks, 6, 5 + BroadcastWhileUnfollowed);
        var live = new List<Ack>();
        foreach (var node in new[] { A, B, C })
        {
            live.Add(await node.BroadcastAsync(id, $"live-{node.Port}"));
        }
        acks.AddRange(live);
        await ExpectAsync(back, acks, 6 + BroadcastWhileUnfollowed, 8 + BroadcastWhileUnfollowed);
        back.Dispose();
    }

    [Fact]
    public async Task Replay_last_on_a_refollowed_channel_shows_what_another_node_broadcast_while_it_was_not_followed()
    {
        await StartNatsAsync();
        await StartNodesAsync(extraEnvironment: Delay(1));
        var id = await CreateActiveChannelEverywhereAsync(A, "unfollow-replay", persist: false, replayLast: 3);

        var (first, _) = await JoinAsync(B, id);
        var acks = new List<Ack> { await A.BroadcastAsync(id, "old-1"), await A.BroadcastAsync(id, "old-2") };
        await ExpectAsync(first, acks, 1, 2);
        await first.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        first.Dispose();
        await EventuallyAsync(async () => (await MetricsAsync(B))[Followed] == 0, "B stopped following");

        for (var i = 1; i <= 4; i++)
        {
            acks.Add(await A.BroadcastAsync(id, $"new-{i}"));
        }

        // A new client on B: the three latest broadcasts (sequences 4..6, all made while B was not following).
        var (second, connected) = await JoinAsync(B, id);
        Assert.Equal(6, connected.GetProperty("data").GetProperty("last_sequence").GetInt64());
        await ExpectAsync(second, acks, 4, 6);
        acks.Add(await C.BroadcastAsync(id, "live"));
        await ExpectAsync(second, acks, 7, 7);
        second.Dispose();
    }

    [Fact]
    public async Task A_client_joining_during_the_delay_keeps_the_follower_running_and_misses_nothing()
    {
        await StartNatsAsync();
        await StartNodesAsync(extraEnvironment: Delay(4));
        var id = await CreateActiveChannelEverywhereAsync(A, "unfollow-linger", persist: true);

        var (first, connected) = await JoinAsync(B, id);
        var epoch = connected.GetProperty("data").GetProperty("epoch").GetString()!;
        var acks = new List<Ack>();
        for (var i = 1; i <= 3; i++)
        {
            acks.Add(await A.BroadcastAsync(id, $"first-{i}"));
        }
        await ExpectAsync(first, acks, 1, 3);
        await first.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        first.Dispose();
        // stats.connections 0: the client's lease is released (it goes before the slot), the delay runs.
        await EventuallyAsync(async () => (await B.GetChannelAsync(id)).Channel?.GetProperty("stats").GetProperty("connections").GetInt32() == 0,
            "B saw the client leave");
        for (var i = 1; i <= 3; i++)
        {
            acks.Add(await A.BroadcastAsync(id, $"lingering-{i}"));
        }

        var (second, again) = await JoinAsync(B, id, $"?after=3&epoch={epoch}");
        Assert.True(again.GetProperty("data").GetProperty("recovered").GetBoolean(), again.GetRawText());
        // Joined within the delay: the follower was never stopped (a stop would have counted).
        var joined = await MetricsAsync(B);
        Assert.Equal(0, joined[Stopped]);
        Assert.Equal(1, joined[Started]);
        await ExpectAsync(second, acks, 4, 6);

        // Past the delay with a client on: still the first follower, and live messages keep coming.
        await Task.Delay(TimeSpan.FromSeconds(5));
        var later = await MetricsAsync(B);
        Assert.Equal(1, later[Followed]);
        Assert.Equal(1, later[Started]);
        Assert.Equal(0, later[Stopped]);
        acks.Add(await C.BroadcastAsync(id, "live"));
        await ExpectAsync(second, acks, 7, 7);
        second.Dispose();
    }

    [Fact]
    public async Task Lifecycle_changes_reach_a_node_that_unfollowed_and_a_delete_there_leaves_no_follower_and_no_stream()
    {
        await StartNatsAsync();
        await StartNodesAsync(extraEnvironment: Delay(1));
        var id = await CreateActiveChannelEverywhereAsync(A, "unfollow-lifecycle", persist: true);
        var (first, _) = await JoinAsync(B, id);
        var acks = new List<Ack> { await A.BroadcastAsync(id, "one") };
        await ExpectAsync(first, acks, 1, 1);
        await first.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        first.Dispose();
        await EventuallyAsync(async () => (await MetricsAsync(B))[Followed] == 0, "B stopped following");

        // Pause and start on A reach B through the channel bucket, not through a follower.
        await A.SetStatusAsync(id, "pause");
        await EventuallyAsync(async () => (await B.GetChannelAsync(id)).Channel?.GetProperty("status").GetString() == "Paused", "pause reached B");
        // A client retrying on the paused channel is denied without making B follow it.
        var startedBeforeDenial = (await MetricsAsync(B))[Started];
        using (var refused = await B.ConnectAsync(id))
        {
            var (envelopes, closeStatus, _) = await ServerProcess.ReadUntilClosedAsync(refused);
            Assert.Equal("denied", Assert.Single(envelopes).GetProperty("status").GetString());
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, closeStatus);
        }
        var afterDenial = await MetricsAsync(B);
        Assert.Equal(startedBeforeDenial, afterDenial[Started]);
        Assert.Equal(0, afterDenial[Followed]);
        await A.SetStatusAsync(id, "start");
        await EventuallyAsync(async () => (await B.GetChannelAsync(id)).Channel?.GetProperty("status").GetString() == "Active", "start reached B");
        var (second, _) = await JoinAsync(B, id);
        acks.Add(await A.BroadcastAsync(id, "two"));
        await ExpectAsync(second, acks, 2, 2);
        await second.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        second.Dispose();
        await EventuallyAsync(async () => (await MetricsAsync(B))[Followed] == 0, "B stopped following again");
        var beforeDelete = await MetricsAsync(B);
        var stream = EmitHub.Cluster.JetStreamClusterStore.StreamPrefix + Guid.Parse(id).ToString("N");
        Assert.Contains(stream, await StreamNamesAsync());

        // Deleted on A while B does not follow it: gone on B, no follower started for it, its stream gone from NATS.
        await A.DeleteAsync(id);
        await EventuallyAsync(async () => (await B.GetChannelAsync(id)).Status == System.Net.HttpStatusCode.NotFound, "delete reached B");
        await Task.Delay(TimeSpan.FromSeconds(2));
        var afterDelete = await MetricsAsync(B);
        Assert.Equal(0, afterDelete[Followed]);
        Assert.Equal(beforeDelete[Started], afterDelete[Started]);
        Assert.Equal(0, afterDelete["emithub_channels{status=\"Active\"}"]);
        Assert.DoesNotContain(stream, await StreamNamesAsync());
    }

    [Fact]
    public async Task A_multiplexed_unsubscribe_unfollows_that_channel_only_and_a_resubscribe_with_after_misses_nothing()
    {
        await StartNatsAsync();
        await StartNodesAsync(extraEnvironment: Delay(1));
        var x = await CreateActiveChannelEverywhereAsync(A, "mux-x", persist: true);
        var y = await CreateActiveChannelEverywhereAsync(A, "mux-y", persist: true);
        using var ws = new ClientWebSocket();
        await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{B.Port}/api/v1/ws"), CancellationToken.None);
        await SendAsync(ws, $$"""{"op":"subscribe","channel":"{{x}}"}""");
        Assert.Equal("connected", (await ServerProcess.ReceiveAsync(ws)).GetProperty("status").GetString());
        await SendAsync(ws, $$"""{"op":"subscribe","channel":"{{y}}"}""");
        Assert.Equal("connected", (await ServerProcess.ReceiveAsync(ws)).GetProperty("status").GetString());
        Assert.Equal(2, (await MetricsAsync(B))[Followed]);
        var onX = new List<Ack> { await A.BroadcastAsync(x, "x1") };
        await ExpectAsync(ws, onX, 1, 1);

        await SendAsync(ws, $$"""{"op":"unsubscribe","channel":"{{x}}"}""");
        Assert.Equal("unsubscribed", (await ServerProcess.ReceiveAsync(ws)).GetProperty("status").GetString());
        await EventuallyAsync(async () => (await MetricsAsync(B))[Followed] == 1, "B follows y only");
        for (var i = 2; i <= 4; i++)
        {
            onX.Add(await C.BroadcastAsync(x, $"x{i}"));
        }
        // y is still followed: its messages keep coming on the same socket.
        var onY = new List<Ack> { await A.BroadcastAsync(y, "y1") };
        await ExpectAsync(ws, onY, 1, 1);

        await SendAsync(ws, $$"""{"op":"subscribe","channel":"{{x}}","after":1}""");
        var connected = await ServerProcess.ReceiveAsync(ws);
        Assert.Equal("connected", connected.GetProperty("status").GetString());
        Assert.True(connected.GetProperty("data").GetProperty("recovered").GetBoolean(), connected.GetRawText());
        await ExpectAsync(ws, onX, 2, 4);
        onX.Add(await A.BroadcastAsync(x, "x5"));
        await ExpectAsync(ws, onX, 5, 5);
        var metrics = await MetricsAsync(B);
        Assert.Equal(2, metrics[Followed]);
        Assert.Equal(3, metrics[Started]);
        Assert.Equal(1, metrics[Stopped]);
    }

    private static Task SendAsync(ClientWebSocket ws, string json) =>
        ws.SendAsync(System.Text.Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, CancellationToken.None);

    private async Task<List<string>> StreamNamesAsync()
    {
        await using var connection = new NATS.Client.Core.NatsConnection(new NATS.Client.Core.NatsOpts { Url = Nats[0].Url });
        var js = new NATS.Client.JetStream.NatsJSContext(connection);
        var names = new List<string>();
        await foreach (var name in js.ListStreamNamesAsync())
        {
            names.Add(name);
        }
        return names;
    }

    private static Dictionary<string, string> Delay(int seconds) => new()
    {
        ["EMIT_HUB_CLUSTER_UNFOLLOW_DELAY"] = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static async Task<MetricsScrape> MetricsAsync(ServerProcess node) =>
        MetricsScrape.Parse(await node.Http.GetStringAsync("/metrics"));

    /// <summary>The next envelopes on <paramref name="ws"/> are exactly the broadcasts <paramref name="from"/>..<paramref name="through"/>,
    /// in order, each with the content its ack named.</summary>
    private static async Task ExpectAsync(ClientWebSocket ws, List<Ack> acks, long from, long through)
    {
        for (var sequence = from; sequence <= through; sequence++)
        {
            var envelope = await ServerProcess.ReceiveAsync(ws);
            Assert.True(envelope.GetProperty("status").GetString() == "broadcast", envelope.GetRawText());
            Assert.Equal(sequence, envelope.GetProperty("sequence").GetInt64());
            Assert.Equal(acks.Single(a => a.Sequence == sequence).Content, envelope.GetProperty("message").GetString());
        }
    }
}
