namespace EmitHub.Net.Transport;

/// <summary>
/// Receives the server's single heartbeat tick (about once a second) for one connection. HTTP uses it for its
/// 408/idle timeouts; a protocol that takes the connection over after an upgrade (WebSocket: ping interval, pong
/// timeout, close wait) installs its own handler with <see cref="ConnectionContext.SetHeartbeatHandler"/>.
/// </summary>
public interface IConnectionHeartbeatHandler
{
    /// <summary>Called from the heartbeat timer thread. Must be quick and must not block; to wake a reader, use
    /// <c>PipeReader.CancelPendingRead()</c> or <see cref="ConnectionContext.Abort"/>.</summary>
    /// <param name="now">The heartbeat's current UTC time (from the server's <see cref="TimeProvider"/>).</param>
    void OnHeartbeat(DateTimeOffset now);
}
