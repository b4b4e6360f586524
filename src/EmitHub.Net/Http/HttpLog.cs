using Microsoft.Extensions.Logging;

namespace EmitHub.Net.Http;

/// <summary>Log messages of HTTP/1.1 (event ids 1100–1199).</summary>
internal static partial class HttpLog
{
    [LoggerMessage(1100, LogLevel.Debug, "Connection {ConnectionId}: request rejected with {StatusCode} ({Reason})")]
    public static partial void RequestRejected(ILogger logger, long connectionId, int statusCode, RequestRejectionReason reason);

    [LoggerMessage(1101, LogLevel.Error, "Connection {ConnectionId}: unhandled error answering {Method} {Path}")]
    public static partial void HandlerFailed(ILogger logger, long connectionId, string method, string path, Exception exception);

    [LoggerMessage(1102, LogLevel.Debug, "Connection {ConnectionId}: {Method} {Path} -> {StatusCode}")]
    public static partial void RequestCompleted(ILogger logger, long connectionId, string method, string path, int statusCode);
}
