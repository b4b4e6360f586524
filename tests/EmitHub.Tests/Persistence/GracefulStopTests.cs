using System.Net.WebSockets;
using System.Text.Json;
using Xunit.Abstractions;

namespace EmitHub.Tests.Persistence;

/// <summary>
/// SIGTERM while publishers are mid-burst (SPEC §1, §5): stop accepting, close 1001 to every WebSocket, flush the
/// store, exit 0; everything acknowledged is there after a restart.
/// </summary>
[Collection(PersistenceProcessCollection.Name)]
public sealed class GracefulStopTests : PersistenceTestBase
{
    public GracefulStopTests(ITestOutputHelper output)
        : base(output)
    {
    }

    [Fact]
    public async Task Sigterm_mid_burst_closes_clients_with_1001_exits_0_and_keeps_every_acknowledged_broadcast()
    {
        await Server.StartAsync();
        var channel = await Server.CreateActiveChannelAsync("Turnos", persist: true);
        var clients = new List<ClientWebSocket>();
        for (var i = 0; i < 3; i++)
        {
            var ws = await Server.ConnectAsync(channel);
            Assert.Equal("connected", (await ServerProcess.ReceiveAsync(ws)).GetProperty("status").GetString());
            clients.Add(ws);
        }
        var readers = clients.Select(ws => Task.Run(() => ServerProcess.ReadUntilClosedAsync(ws))).ToList();

        var burst = PublisherBurst.Start(Server.Http, channel, publishers: 3, perPublisher: 1000);
        await burst.AcknowledgedAsync(300);
        var code = await Server.StopAsync();
        var stdout = Server.History.ToString();
        Assert.Equal(0, code);
        Assert.Contains("👋 EmitHub stopped", stdout, StringComparison.Ordinal);
        await burst.Completion;
        var acks = burst.Acks.Select(a => a.Ack).ToList();
        Assert.True(acks.Count >= 300);
        Assert.Contains(burst.Endings, e => e != "done");

        var results = await Task.WhenAll(readers);
        foreach (var (envelopes, closeStatus, error) in results)
        {
            Assert.True(closeStatus == WebSocketCloseStatus.EndpointUnavailable, $"close {closeStatus}, error {error}");
            // Each client saw a gap-free run from 1 (it joined before the first broadcast).
            Assert.Equal(Enumerable.Range(1, envelopes.Count).Select(i => (long)i), envelopes.Select(e => e.GetProperty("sequence").GetInt64()));
        }

        await Server.StartAsync();
        var history = await Server.GetHistoryAsync(channel);
        var last = AssertHistoryHoldsEveryAck(history, acks);
        Assert.True(last >= acks.Max(a => a.Sequence));
        foreach (var (envelopes, _, _) in results)
        {
            // What clients were sent live is what the store kept.
            Assert.True(envelopes.Count <= history.Count);
            for (var i = 0; i < envelopes.Count; i++)
            {
                Assert.Equal(history[i].GetProperty("message").GetString(), envelopes[i].GetProperty("message").GetString());
            }
        }
        Assert.Equal(last + 1, (await Server.BroadcastAsync(channel, "after-restart")).Sequence);
        foreach (var ws in clients)
        {
            ws.Dispose();
        }
        await Server.KillAsync();
    }
}
