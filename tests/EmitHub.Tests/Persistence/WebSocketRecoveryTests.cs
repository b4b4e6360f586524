using System.Net.WebSockets;
using System.Text.Json;
using Xunit.Abstractions;

namespace EmitHub.Tests.Persistence;

/// <summary>
/// WebSocket <c>?after=SEQ&amp;epoch=E</c> across a real server restart (SPEC §3 "Recovery", §6): a persisting
/// channel keeps its epoch and replays exactly what the client missed, then live messages; a channel that does
/// not persist comes back with a new epoch and says <c>recovered: false</c>.
/// </summary>
[Collection(PersistenceProcessCollection.Name)]
public sealed class WebSocketRecoveryTests : PersistenceTestBase
{
    public WebSocketRecoveryTests(ITestOutputHelper output)
        : base(output)
    {
    }

    [Fact]
    public async Task A_client_reconnecting_after_a_restart_gets_exactly_the_missed_messages_then_live_ones()
    {
        await Server.StartAsync();
        var persisting = await Server.CreateActiveChannelAsync("Turnos", persist: true);
        var plain = await Server.CreateActiveChannelAsync("Alertas", persist: false);

        string epoch, plainEpoch;
        using (var ws = await Server.ConnectAsync(persisting))
        using (var wsPlain = await Server.ConnectAsync(plain))
        {
            var connected = Data(await ServerProcess.ReceiveAsync(ws), "connected");
            epoch = connected.GetProperty("epoch").GetString()!;
            Assert.Equal(0, connected.GetProperty("last_sequence").GetInt64());
            Assert.False(connected.TryGetProperty("recovered", out _));
            plainEpoch = Data(await ServerProcess.ReceiveAsync(wsPlain), "connected").GetProperty("epoch").GetString()!;

            for (var i = 1; i <= 5; i++)
            {
                Assert.Equal(i, (await Server.BroadcastAsync(persisting, $"m{i}")).Sequence);
            }
            for (var i = 1; i <= 3; i++)
            {
                Assert.Equal(i, (await Server.BroadcastAsync(plain, $"alert{i}")).Sequence);
            }
            for (var i = 1; i <= 5; i++)
            {
                Assert.Equal(i, (await ServerProcess.ReceiveAsync(ws)).GetProperty("sequence").GetInt64());
            }
            for (var i = 1; i <= 3; i++)
            {
                Assert.Equal(i, (await ServerProcess.ReceiveAsync(wsPlain)).GetProperty("sequence").GetInt64());
            }
            await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", default);
            await wsPlain.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", default);
        }
        // Missed by the client: 6..10 before the crash, 11 after the restart and before it reconnects.
        for (var i = 6; i <= 10; i++)
        {
            await Server.BroadcastAsync(persisting, $"m{i}");
        }
        await Server.RestartAfterKillAsync();
        Assert.Equal(11, (await Server.BroadcastAsync(persisting, "m11")).Sequence);

        using (var ws = await Server.ConnectAsync(persisting, $"?after=5&epoch={epoch}"))
        {
            var connected = Data(await ServerProcess.ReceiveAsync(ws), "connected");
            Assert.True(connected.GetProperty("recovered").GetBoolean());
            Assert.Equal(epoch, connected.GetProperty("epoch").GetString());
            Assert.Equal(11, connected.GetProperty("last_sequence").GetInt64());
            var received = new List<JsonElement>();
            for (var i = 6; i <= 11; i++)
            {
                received.Add(await ServerProcess.ReceiveAsync(ws));
            }
            Assert.Equal(12, (await Server.BroadcastAsync(persisting, "m12")).Sequence);
            Assert.Equal(13, (await Server.BroadcastAsync(persisting, "m13")).Sequence);
            received.Add(await ServerProcess.ReceiveAsync(ws));
            received.Add(await ServerProcess.ReceiveAsync(ws));
            // No gap, no duplicate: exactly 6..13 in order, each with its content.
            Assert.Equal(Enumerable.Range(6, 8).Select(i => (long)i), received.Select(e => e.GetProperty("sequence").GetInt64()));
            Assert.Equal(Enumerable.Range(6, 8).Select(i => $"m{i}"), received.Select(e => e.GetProperty("message").GetString()));
            Assert.All(received, e => Assert.Equal("broadcast", e.GetProperty("status").GetString()));
        }

        // A position from another epoch cannot be trusted: recovered false, no replay, live messages only.
        using (var ws = await Server.ConnectAsync(persisting, "?after=5&epoch=not-this-one"))
        {
            var connected = Data(await ServerProcess.ReceiveAsync(ws), "connected");
            Assert.False(connected.GetProperty("recovered").GetBoolean());
            Assert.Equal(14, (await Server.BroadcastAsync(persisting, "m14")).Sequence);
            Assert.Equal(14, (await ServerProcess.ReceiveAsync(ws)).GetProperty("sequence").GetInt64());
        }

        // The non-persisting channel restarted its sequence under a new epoch.
        using (var ws = await Server.ConnectAsync(plain, $"?after=3&epoch={plainEpoch}"))
        {
            var connected = Data(await ServerProcess.ReceiveAsync(ws), "connected");
            Assert.False(connected.GetProperty("recovered").GetBoolean());
            Assert.NotEqual(plainEpoch, connected.GetProperty("epoch").GetString());
            Assert.Equal(0, connected.GetProperty("last_sequence").GetInt64());
            Assert.Equal(1, (await Server.BroadcastAsync(plain, "alert-new")).Sequence);
            var live = await ServerProcess.ReceiveAsync(ws);
            Assert.Equal(1, live.GetProperty("sequence").GetInt64());
            Assert.Equal("alert-new", live.GetProperty("message").GetString());
        }
        await Server.KillAsync();
    }

    private static JsonElement Data(JsonElement envelope, string status)
    {
        Assert.Equal(status, envelope.GetProperty("status").GetString());
        return envelope.GetProperty("data");
    }
}
