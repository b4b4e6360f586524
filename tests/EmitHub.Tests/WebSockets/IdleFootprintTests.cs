using System.Net;
using System.Runtime.CompilerServices;
using EmitHub.Net.Http;
using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.WebSockets;

/// <summary>
/// What an idle upgraded WebSocket keeps alive (issue 10): after the 101 no HTTP object (connection, request head,
/// response, body buffer) stays reachable. Tests in this class run one at a time (one xunit collection per class),
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
