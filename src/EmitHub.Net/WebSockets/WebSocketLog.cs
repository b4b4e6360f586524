using Microsoft.Extensions.Logging;

namespace EmitHub.Net.WebSockets;

internal static partial class WebSocketLog
{
    [LoggerMessage(EventId = 400, Level = LogLevel.Warning, Message = "WebSocket {ConnectionId} closed as a slow consumer: more than {MaxPendingBytes} bytes pending")]
    public static partial void SlowConsumer(ILogger logger, Guid connectionId, long maxPendingBytes);

    [LoggerMessage(EventId = 401, Level = LogLevel.Debug, Message = "WebSocket {ConnectionId} failed: close {CloseCode} {Reason}")]
    public static partial void ProtocolError(ILogger logger, Guid connectionId, ushort closeCode, string reason);

    [LoggerMessage(EventId = 402, Level = LogLevel.Debug, Message = "WebSocket {ConnectionId} closed: no pong within the pong timeout")]
    public static partial void PongTimeout(ILogger logger, Guid connectionId);

    [LoggerMessage(EventId = 403, Level = LogLevel.Debug, Message = "WebSocket handshake refused with {Status}: {Reason}")]
    public static partial void HandshakeRefused(ILogger logger, int status, string reason);

    [LoggerMessage(EventId = 404, Level = LogLevel.Debug, Message = "WebSocket {ConnectionId} closed 4001: its subscriber token expired")]
    public static partial void TokenExpired(ILogger logger, Guid connectionId);

    [LoggerMessage(EventId = 405, Level = LogLevel.Information, Message = "WebSocket refused (403): Origin '{Origin}' is not in [cors] allowed_origins (env EMIT_HUB_CORS_ORIGINS). Add it there to allow it (\"null\" for pages opened from file://). Logged once a minute per origin")]
    public static partial void OriginRefused(ILogger logger, string origin);
}
