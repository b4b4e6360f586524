using EmitHub.Net.Transport;

namespace EmitHub.Net.Http;

/// <summary>
/// The seam through which a protocol takes a connection over after an HTTP/1.1 upgrade (RFC 9110 §7.8). The router
/// calls it for <c>GET /api/v1/channels/{id}/ws</c> of a known channel and for the configured
/// <c>[websocket] echo_path</c>, once the request carries <c>Upgrade: websocket</c> and <c>Connection: upgrade</c>
/// (a GET without them was already answered 426, other methods 405, unknown channels 404, HTTP/1.0 400).
/// <para>
/// When <see cref="RunAsync"/> is called the request head has been consumed from
/// <see cref="ConnectionContext.Input"/> (bytes after it are the peer's first frames) and nothing has been written.
/// The implementation validates the rest of the opening handshake (RFC 6455 §4.2: version 13 else 426, key else
/// 400, Origin allow-list else 403), writes either that error response or <c>101 Switching Protocols</c> into
/// <see cref="ConnectionContext.Output"/>, then owns the connection: it installs its own heartbeat handler with
/// <see cref="ConnectionContext.SetHeartbeatHandler"/> (the HTTP one is removed before the call), records its close
/// reason with <see cref="ConnectionContext.TrySetCloseReason"/>, and returns when the connection should end. The
/// transport then sends what is queued, closes the socket and unregisters the heartbeat.
/// </para>
/// </summary>
public interface IWebSocketUpgrade
{
    /// <summary>Runs the upgraded connection until it ends.</summary>
    /// <param name="request">The upgrade request (path, query such as <c>?after=</c>, field lines).</param>
    /// <param name="connection">The connection: pipes, heartbeat registration, close reason, abort.</param>
    /// <param name="cancellationToken">Cancelled when the server stops (send close 1001, then return).</param>
    ValueTask RunAsync(HttpRequestHead request, ConnectionContext connection, CancellationToken cancellationToken);
}
