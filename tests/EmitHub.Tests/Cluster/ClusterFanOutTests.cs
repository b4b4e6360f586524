using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using EmitHub.Tests.Persistence;
using Xunit.Abstractions;

namespace EmitHub.Tests.Cluster;

/// <summary>
/// Three real nodes on one NATS JetStream (issue 11): one channel, subscribers on every node, broadcasts posted
/// concurrently through every node; and lifecycle changes made on one node reaching the clients of the others.
/// </summary>
[Collection(PersistenceProcessCollection.Name)]
public sealed class ClusterFanOutTests(ITestOutputHelper output) : ClusterTestBase(output)
{
    private const int PublishersPerNode = 2;
    private const int BroadcastsPerPublisher = 25;

    [Fact]
    public async Task Concurrent_publishers_on_three_nodes_give_every_subscriber_every_message_once_in_one_order_with_identical_gap_free_sequences()
    {
        await StartNatsAsync();
        await StartNodesAsync();
        var id = await CreateActiveChannelEverywhereAsync(A, "cluster-fanout", persist: true);

        // Two subscribers on each node.
        var subscribers = new List<ClientWebSocket>();
        foreach (var node in Nodes)
        {
            for (var i = 0; i < 2; i++)
            {
                var (ws, connected) = await JoinAsync(node, id);
                Assert.Equal(0, connected.GetProperty("data").GetProperty("last_sequence").GetInt64());
                subscribers.Add(ws);
            }
        }

        // Publishers on all three nodes at once, to the same channel.
        var acks = new ConcurrentBag<Ack>();
        var publishers = new List<Task>();
        foreach (var (node, n) in Nodes.Select((node, n) => (node, n)))
        {
            for (var p = 0; p < PublishersPerNode; p++)
            {
                var prefix = $"n{n}p{p}";
                publishers.Add(Task.Run(async () =>
                {
                    for (var i = 0; i < BroadcastsPerPublisher; i++)
                    {
                        acks.Add(await node.BroadcastAsync(id, $"{prefix}-{i}"));
                    }
                }));
            }
        }
        await Task.WhenAll(publishers);
        var total = Nodes.Count * PublishersPerNode * BroadcastsPerPublisher;

        // Acknowledged sequences are exactly 1..total: unique, gap-free, across nodes.
        Assert.Equal(Enumerable.Range(1, total).Select(i => (long)i), acks.Select(a => a.Sequence).Order());
        var contentAt = acks.ToDictionary(a => a.Sequence, a => a.Content);

        // Every subscriber: every message once, in sequence order, each at the sequence its ack named.
        string[]? firstOrder = null;
        foreach (var ws in subscribers)
        {
            var received = new List<JsonElement>();
            while (received.Count < total)
            {
                received.Add(await ServerProcess.ReceiveAsync(ws));
            }
            Assert.All(received, e => Assert.Equal("broadcast", e.GetProperty("status").GetString()));
            Assert.Equal(Enumerable.Range(1, total).Select(i => (long)i), received.Select(e => e.GetProperty("sequence").GetInt64()));
            foreach (var envelope in received)
            {
                Assert.Equal(contentAt[envelope.GetProperty("sequence").GetInt64()], envelope.GetProperty("message").GetString());
            }
            var order = received.Select(e => e.GetProperty("message").GetString()!).ToArray();
            firstOrder ??= order;
            Assert.Equal(firstOrder, order);
            // Each publisher's own messages keep the order it sent them in.
            foreach (var group in order.GroupBy(m => m.Split('-')[0]))
            {
                Assert.Equal(group.Select(m => int.Parse(m.Split('-')[1])).Order(), group.Select(m => int.Parse(m.Split('-')[1])));
            }
        }

        // History is the same on every node.
        var histories = new List<string[]>();
        foreach (var node in Nodes)
        {
            var history = await node.GetHistoryAsync(id);
            Assert.Equal(Enumerable.Range(1, total).Select(i => (long)i), history.Select(e => e.GetProperty("sequence").GetInt64()));
            histories.Add(history.Select(e => e.GetRawText()).ToArray());
        }
        Assert.Equal(histories[0], histories[1]);
        Assert.Equal(histories[0], histories[2]);
        foreach (var ws in subscribers)
        {
            ws.Dispose();
        }
    }

    [Fact]
    public async Task Pause_start_stop_and_delete_on_node_A_reach_the_clients_of_nodes_B_and_C()
    {
        await StartNatsAsync();
        await StartNodesAsync();
        var id = await CreateActiveChannelEverywhereAsync(A, "cluster-lifecycle", persist: false);
        var (onB, _) = await JoinAsync(B, id);
        var (onC, _) = await JoinAsync(C, id);

        await A.SetStatusAsync(id, "pause");
        foreach (var ws in new[] { onB, onC })
        {
            var paused = await ServerProcess.ReceiveAsync(ws);
            Assert.Equal("paused", paused.GetProperty("status").GetString());
            Assert.Equal("Channel cluster-lifecycle is paused", paused.GetProperty("message").GetString());
        }
        // A broadcast through B is refused while paused, as on a single node.
        var (status, _, _) = await ServerProcess.TryBroadcastAsync(B.Http, id, "while paused");
        Assert.Equal(HttpStatusCode.Conflict, status);

        await A.SetStatusAsync(id, "start");
        foreach (var ws in new[] { onB, onC })
        {
            Assert.Equal("resumed", (await ServerProcess.ReceiveAsync(ws)).GetProperty("status").GetString());
        }

        // A patch on C is seen by GET on A and B; GET /channels is the same everywhere.
        await C.PatchAsync(id, """{"name":"renamed","settings":{"replay_last":3}}""");
        var lists = new List<List<JsonElement>>();
        foreach (var node in Nodes)
        {
            lists.Add(await node.ListChannelsAsync());
        }
        foreach (var list in lists)
        {
            Assert.Equal("renamed", Assert.Single(list).GetProperty("name").GetString());
            Assert.Equal(3, list[0].GetProperty("settings").GetProperty("replay_last").GetInt32());
            foreach (var field in new[] { "id", "name", "description", "status", "created_at", "updated_at", "settings" })
            {
                Assert.Equal(lists[0][0].GetProperty(field).GetRawText(), list[0].GetProperty(field).GetRawText());
            }
        }

        await A.SetStatusAsync(id, "stop");
        foreach (var ws in new[] { onB, onC })
        {
            var (envelopes, closeStatus, _) = await ServerProcess.ReadUntilClosedAsync(ws);
            Assert.Equal("stopped", Assert.Single(envelopes).GetProperty("status").GetString());
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, closeStatus);
        }

        // Delete on A: clients of B and C get stopped + 1001, and the channel is gone everywhere.
        await A.SetStatusAsync(id, "start");
        await EventuallyAsync(async () => (await C.GetChannelAsync(id)).Channel?.GetProperty("status").GetString() == "Active", "restart reached C");
        await EventuallyAsync(async () => (await B.GetChannelAsync(id)).Channel?.GetProperty("status").GetString() == "Active", "restart reached B");
        var (again, _) = await JoinAsync(B, id);
        var (againC, _) = await JoinAsync(C, id);
        await A.DeleteAsync(id);
        foreach (var ws in new[] { again, againC })
        {
            var (envelopes, closeStatus, _) = await ServerProcess.ReadUntilClosedAsync(ws);
            Assert.Equal("stopped", Assert.Single(envelopes).GetProperty("status").GetString());
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, closeStatus);
        }
        foreach (var node in Nodes)
        {
            await EventuallyAsync(async () => (await node.GetChannelAsync(id)).Status == HttpStatusCode.NotFound, $"delete reached port {node.Port}");
        }
    }
}
