using System.Net;
using System.Text.Json;
using Xunit.Abstractions;

namespace EmitHub.Tests.Persistence;

/// <summary>
/// SIGKILL of the real server while REST publishers are mid-burst, then a restart on the same <c>db_path</c>
/// (SPEC §5: a 200 on a persisting channel means the message is durable; channels come back identical).
/// </summary>
[Collection(PersistenceProcessCollection.Name)]
public sealed class CrashRecoveryTests : PersistenceTestBase
{
    private const int Publishers = 4;
    private const int PerPublisher = 1000;

    public CrashRecoveryTests(ITestOutputHelper output)
        : base(output)
    {
    }

    [Fact]
    public async Task Sigkill_mid_burst_keeps_every_acknowledged_broadcast_in_order_and_the_channels_identical()
    {
        await Server.StartAsync();
        var turnos = (await Server.CreateChannelAsync(
            """{"name":"Turnos Clínica","description":"Sala de espera \"A\"","settings":{"persist_messages":true,"rate_limit_per_minute":0,"replay_last":3,"max_connections":77,"allow_client_messages":true}}"""))
            .GetProperty("id").GetString()!;
        await Server.SetStatusAsync(turnos, "start");
        var plain = await Server.CreateActiveChannelAsync("Alertas", persist: false);
        for (var i = 1; i <= 3; i++)
        {
            Assert.Equal(i, (await Server.BroadcastAsync(plain, $"alert-{i}")).Sequence);
        }
        var paused = await Server.CreateActiveChannelAsync("Pausado", persist: true);
        await Server.SetStatusAsync(paused, "pause");
        var stopped = await Server.CreateActiveChannelAsync("Parado", persist: false);
        await Server.SetStatusAsync(stopped, "stop");
        await Server.CreateChannelAsync("""{"name":"Recién creado"}""");
        var patched = await Server.CreateActiveChannelAsync("Antes", persist: false);
        await Server.PatchAsync(patched, """{"name":"Después","description":null,"settings":{"rate_limit_per_minute":5,"replay_last":7}}""");
        var deleted = await Server.CreateActiveChannelAsync("Borrado", persist: true);
        await Server.BroadcastAsync(deleted, "gone");
        await Server.DeleteAsync(deleted);
        var before = await Server.ListChannelsAsync();
        Assert.Equal(6, before.Count);

        var burst = PublisherBurst.Start(Server.Http, turnos, Publishers, PerPublisher);
        await burst.AcknowledgedAsync(600);
        await Server.KillAsync();
        await burst.Completion;
        var acks = burst.Acks.Select(a => a.Ack).ToList();
        Assert.True(acks.Count >= 600, string.Join("; ", burst.Endings));
        Assert.Contains(burst.Endings, e => e != "done");

        await Server.StartAsync();
        AssertSameChannels(before, await Server.ListChannelsAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await Server.GetChannelAsync(deleted)).Status);

        var history = await Server.GetHistoryAsync(turnos);
        var last = AssertHistoryHoldsEveryAck(history, acks);
        Assert.True(last >= acks.Max(a => a.Sequence));
        // Each publisher sent one broadcast after the other: history holds each one's prefix, in its order, plus at
        // most the one request that was in flight when the server died.
        var byPublisher = history.Select(e => e.GetProperty("message").GetString()!)
            .Select(c => c[1..].Split('-').Select(int.Parse).ToArray())
            .GroupBy(p => p[0], p => p[1]);
        foreach (var group in byPublisher)
        {
            var indexes = group.ToList();
            Assert.Equal(Enumerable.Range(0, indexes.Count), indexes);
            var acked = burst.Acks.Count(a => a.Publisher == group.Key);
            Assert.InRange(indexes.Count, acked, acked + 1);
        }

        // The sequence continues after the recovered tail; a channel that does not persist starts a new epoch at 1.
        Assert.Equal(last + 1, (await Server.BroadcastAsync(turnos, "after-restart")).Sequence);
        Assert.Equal(1, (await Server.BroadcastAsync(plain, "alert-after-restart")).Sequence);
        Assert.Equal(HttpStatusCode.Conflict, await Server.GetHistoryStatusAsync(plain));
        await Server.KillAsync();
    }

    /// <summary>
    /// A WebSocket client reading during the burst: whatever it was sent live must be what the store kept, or after
    /// the restart the sequence numbers it saw are reused for other messages and its <c>?after=SEQ&amp;epoch=E</c>
    /// position points into a history that never existed (SPEC §3 "Recovery": no gap, no duplicate).
    /// </summary>
    [Fact]
    public async Task Live_clients_were_sent_only_messages_that_survive_a_sigkill()
    {
        await Server.StartAsync();
        var channel = await Server.CreateActiveChannelAsync("Turnos", persist: true);
        var clients = new List<System.Net.WebSockets.ClientWebSocket>();
        string epoch = "";
        for (var i = 0; i < 2; i++)
        {
            var ws = await Server.ConnectAsync(channel);
            epoch = (await ServerProcess.ReceiveAsync(ws)).GetProperty("data").GetProperty("epoch").GetString()!;
            clients.Add(ws);
        }
        var readers = clients.Select(ws => Task.Run(() => ServerProcess.ReadUntilClosedAsync(ws))).ToList();
        var burst = PublisherBurst.Start(Server.Http, channel, Publishers, PerPublisher);
        await burst.AcknowledgedAsync(600);
        await Server.KillAsync();
        await burst.Completion;
        var seen = await Task.WhenAll(readers);

        await Server.StartAsync();
        var history = await Server.GetHistoryAsync(channel);
        AssertHistoryHoldsEveryAck(history, burst.Acks.Select(a => a.Ack));
        foreach (var (envelopes, _, _) in seen)
        {
            Assert.NotEmpty(envelopes);
            var phantoms = envelopes.Where(e => e.GetProperty("sequence").GetInt64() > history.Count
                || history[(int)e.GetProperty("sequence").GetInt64() - 1].GetProperty("message").GetString() != e.GetProperty("message").GetString()).ToList();
            Assert.True(phantoms.Count == 0,
                $"a client was sent {phantoms.Count} message(s) the crash lost (history ends at {history.Count}), first: {(phantoms.Count > 0 ? phantoms[0].GetRawText() : "")}");
        }

        // The position the client holds is one the server can continue from.
        var lastSeen = seen.Max(s => s.Envelopes[^1].GetProperty("sequence").GetInt64());
        using var again = await Server.ConnectAsync(channel, $"?after={lastSeen}&epoch={epoch}");
        var connected = await ServerProcess.ReceiveAsync(again);
        Assert.True(connected.GetProperty("data").GetProperty("recovered").GetBoolean());
        var next = await Server.BroadcastAsync(channel, "after-restart");
        var replayedAndLive = new List<JsonElement>();
        while (replayedAndLive.Count == 0 || replayedAndLive[^1].GetProperty("sequence").GetInt64() < next.Sequence)
        {
            replayedAndLive.Add(await ServerProcess.ReceiveAsync(again));
        }
        Assert.Equal(Enumerable.Range((int)lastSeen + 1, (int)(next.Sequence - lastSeen)).Select(i => (long)i),
            replayedAndLive.Select(e => e.GetProperty("sequence").GetInt64()));
        foreach (var ws in clients)
        {
            ws.Dispose();
        }
        await Server.KillAsync();
    }

    [Fact]
    public async Task Writes_after_the_first_recovery_survive_a_second_restart()
    {
        await Server.StartAsync();
        var first = await Server.CreateActiveChannelAsync("Primero", persist: true, replayLast: 2);
        var acks = new List<Ack>();
        for (var i = 1; i <= 100; i++)
        {
            acks.Add(await Server.BroadcastAsync(first, $"first-{i}"));
        }
        await Server.RestartAfterKillAsync();
        Assert.Equal(100, AssertHistoryHoldsEveryAck(await Server.GetHistoryAsync(first), acks));

        // After the first recovery: more messages, a new channel, a patch and a status change.
        var second = await Server.CreateActiveChannelAsync("Segundo", persist: true);
        await Server.PatchAsync(first, """{"description":"after the first recovery","settings":{"max_connections":12}}""");
        var burst = PublisherBurst.Start(Server.Http, first, publishers: 2, perPublisher: 100, prefix: "q");
        var secondAcks = new List<Ack>();
        for (var i = 1; i <= 20; i++)
        {
            secondAcks.Add(await Server.BroadcastAsync(second, $"second-{i}"));
        }
        await burst.Completion;
        Assert.All(burst.Endings, e => Assert.Equal("done", e));
        acks.AddRange(burst.Acks.Select(a => a.Ack));
        Assert.Equal(Enumerable.Range(101, 200).Select(i => (long)i), burst.Acks.Select(a => a.Ack.Sequence).Order());
        await Server.SetStatusAsync(second, "pause");
        var channels = await Server.ListChannelsAsync();

        await Server.RestartAfterKillAsync();
        AssertSameChannels(channels, await Server.ListChannelsAsync());
        Assert.Equal(300, AssertHistoryHoldsEveryAck(await Server.GetHistoryAsync(first), acks));
        Assert.Equal(20, AssertHistoryHoldsEveryAck(await Server.GetHistoryAsync(second), secondAcks));

        // replay_last comes from the store after a restart: the two newest broadcasts, right after connected.
        using var ws = await Server.ConnectAsync(first);
        var connected = await ServerProcess.ReceiveAsync(ws);
        Assert.Equal("connected", connected.GetProperty("status").GetString());
        Assert.Equal(300, connected.GetProperty("data").GetProperty("last_sequence").GetInt64());
        var replayed = new[] { await ServerProcess.ReceiveAsync(ws), await ServerProcess.ReceiveAsync(ws) };
        Assert.Equal([299L, 300L], replayed.Select(e => e.GetProperty("sequence").GetInt64()));
        Assert.Equal(acks.Where(a => a.Sequence >= 299).OrderBy(a => a.Sequence).Select(a => a.Content),
            replayed.Select(e => e.GetProperty("message").GetString()));
        Assert.Equal(301, (await Server.BroadcastAsync(first, "third-1")).Sequence);
        Assert.Equal(301, (await ServerProcess.ReceiveAsync(ws)).GetProperty("sequence").GetInt64());
        await Server.SetStatusAsync(second, "start");
        Assert.Equal(21, (await Server.BroadcastAsync(second, "second-21")).Sequence);
    }
}
