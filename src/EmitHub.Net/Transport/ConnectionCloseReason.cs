namespace EmitHub.Net.Transport;

/// <summary>
/// Why a connection ended. Recorded once per connection (the first reason wins), so logs and counters show the
/// cause rather than the last symptom (a reset seen after our own abort, for example).
/// </summary>
public enum ConnectionCloseReason
{
    /// <summary>Still open.</summary>
    None = 0,
    /// <summary>The peer closed its sending side (a receive returned 0 bytes).</summary>
    RemoteClosed,
    /// <summary>The peer reset the connection (ECONNRESET) or the socket failed otherwise.</summary>
    SocketError,
    /// <summary>The server closed after a response carrying <c>Connection: close</c> or an HTTP/1.0 response.</summary>
    ResponseClose,
    /// <summary>A request violated RFC 9112 or a limit of SPEC §4; the server answered and closed.</summary>
    RequestRejected,
    /// <summary>A new connection sent nothing within the initial silence limit (10 s).</summary>
    InitialSilenceTimeout,
    /// <summary>A keep-alive connection stayed idle between requests past its limit (120 s).</summary>
    KeepAliveTimeout,
    /// <summary>A request head or body did not arrive in time; the server answered 408 and closed.</summary>
    RequestTimeout,
    /// <summary>The server is shutting down.</summary>
    ServerShutdown,
    /// <summary>A protocol that took the connection over (WebSocket) closed it normally.</summary>
    UpgradedProtocolClosed,
    /// <summary>A protocol that took the connection over closed it because of a protocol error or timeout.</summary>
    UpgradedProtocolAborted,
    /// <summary>An unexpected exception in the server; logged, the connection dropped.</summary>
    InternalError,
    /// <summary>The TLS handshake failed (not TLS, no shared protocol or cipher, certificate refused by the client).</summary>
    TlsHandshakeFailed,
    /// <summary>The TLS handshake did not complete within <see cref="ConnectionContext.TlsHandshakeTimeout"/>.</summary>
    TlsHandshakeTimeout,
}
