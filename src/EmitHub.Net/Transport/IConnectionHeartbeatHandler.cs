namespace EmitHub.Net.Transport;

/// <summary>
/// Receives the server's single heartbeat tick (about once a second) for one connection. HTTP uses it for its
/// 408/idle timeouts; a protocol that takes the connection over after an upgrade (WebSocket: ping interval, pong
/// timeout, close wait) installs its own handler with <see cref="ConnectionContext.SetHeartbeatHandler"/>.
/// </summary>
public interface IConnectionHeartbeatHandler
{
    /// <summary>Called from the heartbeat timer thread. Must be quick and must not block; to wake a reader, use
    /// <see cref="ConnectionContext.CancelPendingInput"/> (the pipe's or the direct receive's) or <see cref="ConnectionContext.Abort"/>.</summary>
    /// <param name="now">The heartbeat's current UTC time (from the server's <see cref="TimeProvider"/>).</param>
    void OnHeartbeat(DateTimeOffset now);

    /// <summary>The server is stopping (<see cref="ConnectionContext.RequestStop"/>): called once, on the stopping
    /// thread, before the pending read of <see cref="ConnectionContext.Input"/> (or the direct receive wait) is cancelled, so an upgraded protocol
    /// can start its own close (WebSocket: 1001) instead of registering on the server's stop token per connection.
    /// Must be quick and must not block. Default: nothing (HTTP sees the cancelled read).</summary>
    void OnStopRequested()
    {
    }
}
