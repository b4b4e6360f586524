namespace EmitHub.Net.WebSockets;

/// <summary>
/// Why a WebSocket connection ended, as counted by <see cref="WebSocketCounters"/> and exposed as the <c>reason</c>
/// label of <c>emithub_websocket_connections_closed_total</c>. The close code alone does not tell these apart
/// (1001 is both a pong timeout and a server shutdown; a peer's close is echoed with the peer's code).
/// </summary>
public enum WebSocketCloseKind
{
    /// <summary>The client started the closing handshake (any code).</summary>
    ClientClose,
    /// <summary>The server closed 1001: shutdown, or the channel was stopped or deleted.</summary>
    GoingAway,
    /// <summary>Closed 1008 because the channel is not Active (the <c>denied</c> envelope).</summary>
    Denied,
    /// <summary>Closed 1013 because the channel is at <c>max_connections</c>.</summary>
    ChannelFull,
    /// <summary>No pong within <c>pong_timeout</c> (1001).</summary>
    PongTimeout,
    /// <summary>The client broke RFC 6455 or a limit (1002, 1003, 1007, 1009).</summary>
    ProtocolError,
    /// <summary>The client did not read: over <c>max_pending_bytes</c> (1008 "slow consumer").</summary>
    SlowConsumer,
    /// <summary>The TCP connection ended without a closing handshake (RFC 6455 §7.1.5, 1006).</summary>
    Abnormal,
    /// <summary>Any other server-initiated close.</summary>
    Other,
}

/// <summary>Prometheus label values of <see cref="WebSocketCloseKind"/>.</summary>
public static class WebSocketCloseKinds
{
    /// <summary>Label value per kind, indexed by the enum value.</summary>
    public static readonly string[] Labels =
        ["client_close", "going_away", "denied", "channel_full", "pong_timeout", "protocol_error", "slow_consumer", "abnormal", "other"];
}
