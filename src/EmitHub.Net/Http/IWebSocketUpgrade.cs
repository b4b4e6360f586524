using EmitHub.Net.Transport;

namespace EmitHub.Net.Http;

/// <summary>
/// The seam through which a protocol takes a connection over after an HTTP/1.1 upgrade (RFC 9110 §7.8). The router
/// calls it for <c>GET /api/v1/channels/{id}/ws</c> of a known channel and for the configured
/// <c>[websocket] echo_path</c>, once the request carries <c>Upgrade: websocket</c> and <c>Connection: upgrade</c>
/// (a GET without them was already answered 426, other methods 405, unknown channels 404, HTTP/1.0 400).
/// <para>
/// When <see cref="AcceptAsync"/> is called the request head has been consumed from
/// <see cref="ConnectionContext.Input"/> (bytes after it are the peer's first frames) and nothing has been written.
/// The implementation validates the rest of the opening handshake (RFC 6455 §4.2: version 13 else 426, key else
/// 400, Origin allow-list else 403) and writes either that error response (then returns null) or
/// <c>101 Switching Protocols</c> into <see cref="ConnectionContext.Output"/>, and returns the
/// <see cref="IUpgradedConnection"/> that owns the connection from then on. It copies out of
/// the request head what the upgraded protocol needs: once it returns, the HTTP connection, the request head,
/// the response and the body buffer are dropped, so an idle upgraded connection holds none of them.
/// </para>
/// </summary>
public interface IWebSocketUpgrade
{
    /// <summary>Answers the upgrade request; returns the upgraded connection to run, or null when it was refused
    /// (the refusal is already written).</summary>
    /// <param name="request">The upgrade request (path, query such as <c>?after=</c>, field lines). Valid only until
    /// this call completes.</param>
    /// <param name="connection">The connection: pipes, heartbeat registration, close reason, abort.</param>
    /// <param name="cancellationToken">Cancelled when the server stops.</param>
    ValueTask<IUpgradedConnection?> AcceptAsync(HttpRequestHead request, ConnectionContext connection, CancellationToken cancellationToken);
}
