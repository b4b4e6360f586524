using System.Net.WebSockets;
using EmitHub.Tests.Infrastructure;
using static EmitHub.Tests.Channels.ChannelTestKit;

namespace EmitHub.Tests.EndToEnd;

/// <summary>
/// The WebSocket read side runs from the upgrade on, also while the join catches up from a slow store (issue 9:
/// round 1 read nothing until the replay ended, so pongs went unread and the replay was cut "pong timeout").
/// </summary>
public class CatchUpKeepaliveTests
{
    /// <summary>More than the in-memory ring (256) holds, so <c>?after=0</c> reads the store.</summary>
    private const int Stored = 300;

    private static async Task<(TestHubServer Hub, Guid Id)> StartWithHistoryAsync()
    {
        var hub = await TestHubServer.StartAsync(o =>
        {
            o.WebSocket.PingInterval = 1;
            o.WebSocket.PongTimeout = 1;
        });
        return (hub, await CreatePersistingChannelWithHistoryAsync(hub.Registry, Stored));
    }

    [Fact]
    public async Task A_catch_up_slower_than_the_pong_timeout_with_pings_flowing_is_not_closed()
    {
        var (hub, id) = await StartWithHistoryAsync();
        await using var _ = hub;
        // Several ping intervals plus pong timeouts pass while the store answers the catch-up.
        hub.Store.ReadDelay = TimeSpan.FromSeconds(5);
        using var ws = await hub.ConnectAsync(id.ToString(), "?after=0");

        var connected = await ws.ReceiveEnvelopeAsync();
        Assert.Equal("connected", connected!.Value.GetProperty("status").GetString());
        Assert.True(connected.Value.GetProperty("data").GetProperty("recovered").GetBoolean());
        for (var i = 1; i <= Stored; i++)
        {
            // The client answers the pings while it waits (ClientWebSocket does inside ReceiveAsync).
            var envelope = await ws.ReceiveEnvelopeAsync(timeoutSeconds: 30);
            Assert.True(envelope is not null, $"closed at message {i}: {ws.CloseStatus} {ws.CloseStatusDescription}");
            Assert.Equal(i, envelope!.Value.GetProperty("sequence").GetInt64());
        }
        hub.Store.ReadDelay = TimeSpan.Zero;
        await hub.Registry.BroadcastAsync(id, Broadcast("live"), default);
        var live = await ws.ReceiveEnvelopeAsync();
        Assert.Equal(Stored + 1, live!.Value.GetProperty("sequence").GetInt64());
        Assert.Equal(WebSocketState.Open, ws.State);
    }

    [Fact]
    public async Task A_close_frame_sent_during_the_catch_up_is_answered_at_once()
    {
        var (hub, id) = await StartWithHistoryAsync();
        await using var _ = hub;
        hub.Store.ReadDelay = TimeSpan.FromSeconds(60);
        using var ws = await hub.ConnectAsync(id.ToString(), "?after=0");
        Assert.Equal("connected", (await ws.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());

        await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        // The answer comes long before the 60 s store read ends (round 1 answered only after it).
        var answered = await ws.ReceiveTextAsync(timeoutSeconds: 15);

        Assert.Null(answered);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, ws.CloseStatus);
    }
}
