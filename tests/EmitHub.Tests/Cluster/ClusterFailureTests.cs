using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using EmitHub.Tests.Persistence;
using Xunit.Abstractions;

namespace EmitHub.Tests.Cluster;

/// <summary>
/// Failures of a 3-node cluster (issue 11): a node SIGKILLed while its clients listen; the NATS server SIGKILLed and
/// restarted on its file store; one server of a 3-server NATS cluster (R3 streams) SIGKILLed mid-burst. In every
/// case nothing acknowledged is lost and sequences stay gap-free.
/// </summary>
[Collection(PersistenceProcessCollection.Name)]
public sealed class ClusterFailureTests(ITestOutputHelper output) : ClusterTestBase(output)
{
    [Fact]
    public async Task Clients_of_a_SIGKILLed_node_reconnect_to_another_with_after_and_end_with_every_acknowledged_message_once()
    {
        await StartNatsAsync();
        await StartNodesAsync();
        var id = await CreateActiveChannelEverywhereAsync(B, "node-kill", persist: true);
        var clients = new List<(ClientWebSocket Ws, string Epoch)>();
        for (var i = 0; i < 3; i++)
        {
            var (ws, connected) = await JoinAsync(A, id);
            clients.Add((ws, connected.GetProperty("data").GetProperty("epoch").GetString()!));
        }

        // Broadcasts through B and C all along; A is killed after some of them reached its clients.
        var acks = new ConcurrentBag<Ack>();
        using var stop = new CancellationTokenSource();
        var publishers = new[] { B, C }.Select((node, n) => Task.Run(async () =>
        {
            for (var i = 0; i < 40; i++)
            {
                acks.Add(await node.BroadcastAsync(id, $"n{n}-{i}"));
            }
        })).ToArray();

        var received = clients.Select(_ => new List<JsonElement>()).ToList();
        for (var c = 0; c < clients.Count; c++)
        {
            while (received[c].Count < 15)
            {
                received[c].Add(await ServerProcess.ReceiveAsync(clients[c].Ws));
            }
        }
        await A.KillAsync();

        // Each client reads what A had already sent it (TCP may still hold some), then reconnects to C.
        for (var c = 0; c < clients.Count; c++)
        {
            var (rest, _, _) = await ServerProcess.ReadUntilClosedAsync(clients[c].Ws);
            received[c].AddRange(rest);
            clients[c].Ws.Dispose();
        }
        await Task.WhenAll(publishers);
        var last = acks.Max(a => a.Sequence);
        Assert.Equal(80, acks.Count);

        for (var c = 0; c < clients.Count; c++)
        {
            var after = received[c][^1].GetProperty("sequence").GetInt64();
            var (ws, connected) = await JoinAsync(C, id, $"?after={after}&epoch={clients[c].Epoch}");
            Assert.True(connected.GetProperty("data").GetProperty("recovered").GetBoolean(), connected.GetRawText());
            while (received[c][^1].GetProperty("sequence").GetInt64() < last)
            {
                received[c].Add(await ServerProcess.ReceiveAsync(ws));
            }
            ws.Dispose();

            // Every acknowledged message exactly once, in sequence order, with the content its ack named.
            Assert.Equal(Enumerable.Range(1, (int)last).Select(i => (long)i), received[c].Select(e => e.GetProperty("sequence").GetInt64()));
            var bySequence = received[c].ToDictionary(e => e.GetProperty("sequence").GetInt64());
            foreach (var ack in acks)
            {
                Assert.Equal(ack.Content, bySequence[ack.Sequence].GetProperty("message").GetString());
                Assert.Equal(ack.Timestamp, bySequence[ack.Sequence].GetProperty("timestamp").GetString());
            }
        }
    }

    [Fact]
    public async Task A_SIGKILLed_and_restarted_nats_server_loses_no_acknowledged_message_and_nodes_and_clients_recover_by_themselves()
    {
        await StartNatsAsync();
        await StartNodesAsync();
        var id = await CreateActiveChannelEverywhereAsync(A, "nats-restart", persist: true);
        var (onB, _) = await JoinAsync(B, id);
        var (onC, _) = await JoinAsync(C, id);
        var acks = new List<Ack>();
        for (var i = 0; i < 20; i++)
        {
            acks.Add(await A.BroadcastAsync(id, $"before-{i}"));
        }

        await Nats[0].KillAsync();

        // While NATS is down: broadcasts are refused with 503 and a sentence, /ready says why, clients stay open.
        await EventuallyAsync(async () => (await ServerProcess.TryBroadcastAsync(A.Http, id, "during")).Status == HttpStatusCode.ServiceUnavailable,
            "broadcast refused while NATS is down");
        var (status, _, body) = await ServerProcess.TryBroadcastAsync(B.Http, id, "during");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Contains("NATS", body);
        // Like store_busy, the refusal says when to come back (generic HTTP clients and proxies read Retry-After).
        using (var refused = await B.Http.PostAsync($"/api/v1/channels/{id}/broadcast",
            ServerProcess.Json("""{"content":"during","message_type":"Broadcast"}""")))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(2), refused.Headers.RetryAfter?.Delta);
        }
        using (var ready = await A.Http.GetAsync("/ready"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Contains("\"nats\":\"unavailable\"", await ready.Content.ReadAsStringAsync());
        }
        Assert.Equal(WebSocketState.Open, onB.State);
        Assert.Equal(WebSocketState.Open, onC.State);

        await Nats[0].StartAsync();
        foreach (var node in Nodes)
        {
            await EventuallyAsync(async () =>
            {
                using var ready = await node.Http.GetAsync("/ready");
                return ready.StatusCode == HttpStatusCode.OK;
            }, $"node on port {node.Port} ready again");
        }
        for (var i = 0; i < 20; i++)
        {
            acks.Add(await (i % 2 == 0 ? B : C).BroadcastAsync(id, $"after-{i}"));
        }

        // Nothing acknowledged was lost: on every node the history is gap-free and holds each acknowledged broadcast at
        // the sequence its ack named. A broadcast answered 503 while NATS went away may still have reached JetStream
        // (a publish whose acknowledgement was lost) and then sits in the history like any other message.
        Assert.Equal(acks.Count, acks.Select(a => a.Sequence).Distinct().Count());
        List<JsonElement>? reference = null;
        foreach (var node in Nodes)
        {
            var history = await node.GetHistoryAsync(id);
            Assert.Equal(Enumerable.Range(1, history.Count).Select(i => (long)i), history.Select(e => e.GetProperty("sequence").GetInt64()));
            foreach (var ack in acks)
            {
                Assert.Equal(ack.Content, history[(int)ack.Sequence - 1].GetProperty("message").GetString());
                Assert.Equal(ack.Timestamp, history[(int)ack.Sequence - 1].GetProperty("timestamp").GetString());
            }
            reference ??= history;
            Assert.Equal(reference.Select(e => e.GetRawText()), history.Select(e => e.GetRawText()));
        }
        Assert.All(reference!.Where(e => !acks.Any(a => a.Content == e.GetProperty("message").GetString())),
            e => Assert.Equal("during", e.GetProperty("message").GetString()));

        // Both clients, connected all along, got exactly that history, once, in order, without reconnecting.
        foreach (var ws in new[] { onB, onC })
        {
            var got = new List<JsonElement>();
            while (got.Count < reference!.Count)
            {
                got.Add(await ServerProcess.ReceiveAsync(ws));
            }
            Assert.Equal(reference.Select(e => e.GetRawText()), got.Select(e => e.GetRawText()));
            ws.Dispose();
        }
    }

    [Fact]
    public async Task One_server_of_a_three_server_NATS_cluster_SIGKILLed_mid_burst_loses_no_acknowledged_message_with_R3_streams()
    {
        await StartNatsClusterAsync();
        await StartNodesAsync(replicas: 3);
        var id = await CreateActiveChannelEverywhereAsync(A, "r3", persist: true);

        // Publishers on all three nodes; a broadcast refused (503) or cut off during the fail-over is tried no more.
        // They publish until 30 broadcasts were acknowledged after the kill (the cluster recovered), not for a fixed
        // number of attempts: how many attempts a fail-over costs depends on how fast this box elects new leaders.
        var acks = new ConcurrentBag<Ack>();
        var refused = 0;
        var acksAfterKill = 0;
        var killed = false;
        using var giveUp = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var publishers = Nodes.Select((node, n) => Task.Run(async () =>
        {
            for (var i = 0; Volatile.Read(ref acksAfterKill) < 30 && !giveUp.IsCancellationRequested; i++)
            {
                var afterKill = Volatile.Read(ref killed);
                try
                {
                    var (status, ack, _) = await ServerProcess.TryBroadcastAsync(node.Http, id, $"n{n}-{i}");
                    if (status == HttpStatusCode.OK)
                    {
                        acks.Add(ack!);
                        if (afterKill)
                        {
                            Interlocked.Increment(ref acksAfterKill);
                        }
                        continue;
                    }
                    Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
                }
                catch (HttpRequestException)
                {
                }
                Interlocked.Increment(ref refused);
                await Task.Delay(100);
            }
        })).ToArray();
        await EventuallyAsync(() => Task.FromResult(acks.Count >= 30), "30 acknowledged broadcasts before the kill");
        await Nats[0].KillAsync();
        Volatile.Write(ref killed, true);
        await Task.WhenAll(publishers);
        Log($"{acks.Count} broadcasts acknowledged ({acksAfterKill} sent after the kill), {refused} refused or cut off");

        // Every acknowledged broadcast is in the R3 stream at the sequence its ack named; sequences are unique and
        // the history has no gap, read through every node.
        Assert.True(acksAfterKill >= 30, $"the cluster did not recover within 90 s: {acksAfterKill} broadcasts acknowledged after the kill ({refused} refused)");
        Assert.Equal(acks.Count, acks.Select(a => a.Sequence).Distinct().Count());
        foreach (var node in Nodes)
        {
            var history = await node.GetHistoryAsync(id);
            Assert.Equal(Enumerable.Range(1, history.Count).Select(i => (long)i), history.Select(e => e.GetProperty("sequence").GetInt64()));
            foreach (var ack in acks)
            {
                Assert.True(ack.Sequence <= history.Count, $"acknowledged sequence {ack.Sequence} missing (history ends at {history.Count})");
                Assert.Equal(ack.Content, history[(int)ack.Sequence - 1].GetProperty("message").GetString());
                Assert.Equal(ack.Timestamp, history[(int)ack.Sequence - 1].GetProperty("timestamp").GetString());
            }
        }
    }
}
