using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.WebSockets;

/// <summary>
/// Server shutdown closes every upgraded WebSocket 1001 "Server shutting down" (SPEC §4). Since issue 10 this goes
/// through <c>ConnectionContext.RequestStop</c> and the connection's handler, not a registration per connection on the
/// server's stop token, so a stop racing a WebSocket's start must still be seen by exactly one side.
/// </summary>
public class ServerStopCloseTests
{
    private const string ShutdownClose = "close:1001:Server shutting down";

    [Fact]
    public async Task Server_stop_closes_an_idle_websocket_1001()
    {
        var hub = await TestHubServer.StartAsync();
        try
        {
            var id = await hub.CreateActiveChannelAsync();
            using var ws = await RawWebSocketClient.ConnectAsync(hub.EndPoint, $"/api/v1/channels/{id}/ws");
            var connected = await ws.ReadEventsAsync(e => e.Any(x => x.Contains("\"connected\"", StringComparison.Ordinal)));
            Assert.Contains(connected, x => x.Contains("\"connected\"", StringComparison.Ordinal));

            var stop = hub.Server.StopAsync(CancellationToken.None);
            var events = await ws.ReadUntilClosedAsync();
            await stop;
            Assert.Contains(ShutdownClose, events);
        }
        finally
        {
            await hub.DisposeAsync();
        }
    }

    /// <summary>Stress: clients upgrade while the server stops at a varying moment. Every client that got its 101 must
    /// get the shutdown close frame, whether the stop came before its WebSocket installed its handler (seen through
    /// the stop flag) or after (seen through the handler); none may see a bare TCP end.</summary>
    [Fact]
    public async Task Server_stop_racing_upgrades_closes_every_upgraded_websocket_1001()
    {
        var upgraded = 0;
        for (var round = 0; round < 8; round++)
        {
            var hub = await TestHubServer.StartAsync();
            try
            {
                var id = await hub.CreateActiveChannelAsync();
                var clients = Enumerable.Range(0, 24).Select(_ => Task.Run(async () =>
                {
                    RawWebSocketClient ws;
                    try
                    {
                        ws = await RawWebSocketClient.ConnectAsync(hub.EndPoint, $"/api/v1/channels/{id}/ws");
                    }
                    catch (Exception)
                    {
                        return null; // refused or cut during the handshake: the server was already stopping
                    }
                    using (ws)
                    {
                        return await ws.ReadUntilClosedAsync();
                    }
                })).ToList();
                await Task.Delay(round * 3);
                await hub.Server.StopAsync(CancellationToken.None);
                foreach (var events in await Task.WhenAll(clients))
                {
                    if (events is null)
                    {
                        continue;
                    }
                    upgraded++;
                    Assert.Contains(ShutdownClose, events);
                }
            }
            finally
            {
                await hub.DisposeAsync();
            }
        }
        Assert.True(upgraded > 0, "no client got its 101 before the stop; the race was not exercised");
    }
}
