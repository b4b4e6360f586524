using System.Net;
using System.Runtime.CompilerServices;
using EmitHub.Net.Http;
using EmitHub.Net.WebSockets;
using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.WebSockets;

/// <summary>
/// What an idle upgraded WebSocket keeps alive (issue 10): after the 101 no HTTP object (connection, request head,
/// response, body buffer) stays reachable, and between sends the send loop references no frame and no buffer. Tests in this class run one at a time (one xunit collection per class),
/// so the static creation hook is theirs alone; they still filter by the hub's port because other classes run in
/// parallel.
/// </summary>
public class IdleFootprintTests
{
    [Fact]
    public async Task Upgraded_websocket_does_not_keep_the_http_connection_or_request_head_alive()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        var port = hub.EndPoint.Port;
        WeakReference? http = null, head = null;
        HttpConnection.CreatedForTests = c =>
        {
            if (c.Connection.LocalEndPoint is IPEndPoint local && local.Port == port && http is null)
            {
                http = new WeakReference(c);
                head = new WeakReference(c.HeadForTests);
            }
        };
        RawWebSocketClient ws;
        try
        {
            // HttpClient's own connections were made before the hook was set; this is the first connection after it.
            ws = await RawWebSocketClient.ConnectAsync(hub.EndPoint, $"/api/v1/channels/{id}/ws?after=0");
        }
        finally
        {
            HttpConnection.CreatedForTests = null;
        }
        using (ws)
        {
            var connected = await ws.ReadEventsAsync(e => e.Any(x => x.Contains("\"connected\"", StringComparison.Ordinal)));
            Assert.Contains(connected, x => x.Contains("\"connected\"", StringComparison.Ordinal));
            Assert.NotNull(http);
            Assert.NotNull(head);

            // The WebSocket is open and idle; the HTTP objects that answered its handshake must be garbage.
            Assert.True(await CollectedAsync(http!), "the HttpConnection is still reachable from an idle WebSocket");
            Assert.True(await CollectedAsync(head!), "the HttpRequestHead is still reachable from an idle WebSocket");

            // And the socket still works: a broadcast reaches it (the collected objects were not needed).
            await hub.BroadcastAsync(id, "after-gc");
            var events = await ws.ReadEventsAsync(e => e.Any(x => x.Contains("after-gc", StringComparison.Ordinal)));
            Assert.Contains(events, x => x.Contains("after-gc", StringComparison.Ordinal));
        }
    }

    /// <summary>Step 4: on plain TCP the WebSocket reads the socket itself, so the transport's input pipe (its
    /// reader, segments and blocks) is garbage once the WebSocket idles, and no unfinished-frame tail is held. The
    /// output pipe, completed after the 101, is garbage too (it was held for the connection's life).</summary>
    [Fact]
    public async Task Idle_websocket_on_plain_tcp_releases_the_input_and_output_pipes_and_holds_no_receive_tail()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        var port = hub.EndPoint.Port;
        WeakReference? input = null, output = null;
        EmitHub.Net.Transport.ConnectionContext? context = null;
        HttpConnection.CreatedForTests = c =>
        {
            if (c.Connection.LocalEndPoint is IPEndPoint local && local.Port == port && input is null)
            {
                input = new WeakReference(c.Connection.Input);
                output = new WeakReference(c.Connection.Output);
                context = c.Connection;
            }
        };
        var endpoint = Assert.IsType<WebSocketEndpoint>(hub.Server.WebSocketUpgrade);
        WebSocketConnection? accepted = null;
        endpoint.AcceptedForTests = w => accepted = w;
        RawWebSocketClient ws;
        try
        {
            ws = await RawWebSocketClient.ConnectAsync(hub.EndPoint, $"/api/v1/channels/{id}/ws");
        }
        finally
        {
            HttpConnection.CreatedForTests = null;
        }
        using (ws)
        {
            var connected = await ws.ReadEventsAsync(e => e.Any(x => x.Contains("\"connected\"", StringComparison.Ordinal)));
            Assert.Contains(connected, x => x.Contains("\"connected\"", StringComparison.Ordinal));
            // Half a ping header, then the rest: the tail is held between the two reads and released after.
            await ws.SendAsync([0x89]);
            await Task.Delay(100);
            await ws.SendAsync([0x81, 0, 0, 0, 0, 0x05]);
            Assert.Equal(["pong:05"], await ws.ReadEventsAsync(e => e.Count == 1));

            Assert.NotNull(input);
            Assert.True(await CollectedAsync(input!), "the input pipe is still reachable from an idle WebSocket");
            Assert.Throws<InvalidOperationException>(() => context!.Input);
            Assert.True(await CollectedAsync(output!), "the completed output pipe is still reachable from an idle WebSocket");
            Assert.Throws<InvalidOperationException>(() => context!.Output);
            Assert.False(accepted!.HoldsReceiveTailForTests);

            await hub.BroadcastAsync(id, "after-gc");
            var events = await ws.ReadEventsAsync(e => e.Any(x => x.Contains("after-gc", StringComparison.Ordinal)));
            Assert.Contains(events, x => x.Contains("after-gc", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Uncompressed_websockets_share_one_settings_object_until_a_reload_publishes_new_options()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        var endpoint = Assert.IsType<WebSocketEndpoint>(hub.Server.WebSocketUpgrade);
        var accepted = new List<WebSocketConnection>();
        endpoint.AcceptedForTests = w =>
        {
            lock (accepted)
            {
                accepted.Add(w);
            }
        };
        // The hook runs just after the 101 is flushed, so only each `connected` envelope proves it ran: read it before
        // the next connect, so the list is in connect order.
        static Task Connected(RawWebSocketClient ws) =>
            ws.ReadEventsAsync(e => e.Any(x => x.Contains("\"connected\"", StringComparison.Ordinal)));
        using var first = await RawWebSocketClient.ConnectAsync(hub.EndPoint, $"/api/v1/channels/{id}/ws");
        await Connected(first);
        using var second = await RawWebSocketClient.ConnectAsync(hub.EndPoint, $"/api/v1/channels/{id}/ws");
        await Connected(second);
        var current = hub.Options.Current;
        var reloaded = new EmitHub.Core.Configuration.EmitHubOptions { Host = current.Host, Port = current.Port };
        reloaded.WebSocket.PingInterval = current.WebSocket.PingInterval + 7;
        hub.Options.Update(reloaded);
        using var third = await RawWebSocketClient.ConnectAsync(hub.EndPoint, $"/api/v1/channels/{id}/ws");
        await Connected(third);
        endpoint.AcceptedForTests = null;

        Assert.Equal(3, accepted.Count);
        Assert.Same(accepted[0].SettingsForTests, accepted[1].SettingsForTests);
        Assert.NotSame(accepted[0].SettingsForTests, accepted[2].SettingsForTests);
        Assert.Equal(TimeSpan.FromSeconds(current.WebSocket.PingInterval), accepted[0].SettingsForTests.PingInterval);
        Assert.Equal(TimeSpan.FromSeconds(current.WebSocket.PingInterval + 7), accepted[2].SettingsForTests.PingInterval);
    }

    [Fact]
    public async Task Idle_websocket_after_a_broadcast_and_a_ping_references_no_frame_and_no_buffer()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        var endpoint = Assert.IsType<WebSocketEndpoint>(hub.Server.WebSocketUpgrade);
        WebSocketConnection? accepted = null;
        endpoint.AcceptedForTests = w => accepted = w;
        using var ws = await RawWebSocketClient.ConnectAsync(hub.EndPoint, $"/api/v1/channels/{id}/ws");
        var connected = await ws.ReadEventsAsync(e => e.Any(x => x.Contains("\"connected\"", StringComparison.Ordinal)));
        Assert.Contains(connected, x => x.Contains("\"connected\"", StringComparison.Ordinal));
        Assert.NotNull(accepted);

        // A broadcast of 32 KiB: before issue 10 the send loop kept its segment (the shared frame's array) until the next send.
        var big = new string('x', 32 * 1024);
        await hub.BroadcastAsync(id, big);
        var events = await ws.ReadEventsAsync(e => e.Any(x => x.Contains(big, StringComparison.Ordinal)));
        Assert.Contains(events, x => x.Contains(big, StringComparison.Ordinal));
        Assert.Equal(0, await HeldFramesOnceSettledAsync(accepted!));

        // A ping: its pong goes out of a rented control buffer, which is returned once sent.
        await ws.SendAsync(ClientFrame.Build(EmitHub.Net.WebSockets.WebSocketOpcode.Ping, [0x0A, 0x0B]));
        var pong = await ws.ReadEventsAsync(e => e.Contains("pong:0A0B"));
        Assert.Contains("pong:0A0B", pong);
        Assert.Equal(0, await HeldFramesOnceSettledAsync(accepted!));

        // Still open and delivering.
        await hub.BroadcastAsync(id, "still-open");
        var more = await ws.ReadEventsAsync(e => e.Any(x => x.Contains("still-open", StringComparison.Ordinal)));
        Assert.Contains(more, x => x.Contains("still-open", StringComparison.Ordinal));
        Assert.Equal(0, await HeldFramesOnceSettledAsync(accepted!));
    }

    /// <summary>The client saw the bytes a moment before the server's send completion ran: polls up to 10 s for the
    /// send loop to drop its references, and returns what it still holds then (10 s: a loaded CI box can stall the
    /// thread pool for seconds).</summary>
    private static async Task<int> HeldFramesOnceSettledAsync(WebSocketConnection connection)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (connection.HeldFramesForTests != 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
        return connection.HeldFramesForTests;
    }

    /// <summary>Forces full collections until <paramref name="reference"/> is dead (true) or 5 s pass (false): the
    /// server's threads may still be unwinding the handshake's async frames for a moment after the 101.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static async Task<bool> CollectedAsync(WeakReference reference)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (DateTime.UtcNow < deadline)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            if (!reference.IsAlive)
            {
                return true;
            }
            await Task.Delay(50);
        }
        return false;
    }
}
