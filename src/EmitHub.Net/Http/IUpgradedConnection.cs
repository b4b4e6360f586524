using EmitHub.Net.Transport;

namespace EmitHub.Net.Http;

/// <summary>
/// A connection after an accepted upgrade (a WebSocket, an event stream). <see cref="RunAsync"/> owns the transport:
/// it installs its own heartbeat handler with <see cref="ConnectionContext.SetHeartbeatHandler"/> (the HTTP one is
/// removed before the call), records its close reason with <see cref="ConnectionContext.TrySetCloseReason"/>, and
/// returns when the connection should end. The transport then sends what is queued, closes the socket and
/// unregisters the heartbeat.
/// </summary>
public interface IUpgradedConnection
{
    /// <summary>Runs the upgraded connection until it ends.</summary>
    /// <param name="cancellationToken">Cancelled when the server stops (send close 1001, then return).</param>
    Task RunAsync(CancellationToken cancellationToken);
}
