using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace EmitHub.Net.Transport;

/// <summary>Log messages of the transport (event ids 1000–1099).</summary>
internal static partial class TransportLog
{
    [LoggerMessage(1000, LogLevel.Information, "Listening on {EndPoint}")]
    public static partial void Listening(ILogger logger, EndPoint endPoint);

    [LoggerMessage(1001, LogLevel.Error, "Accept failed with {Error} (out of file descriptors?); {Suppressed} more in the last second; backing off")]
    public static partial void AcceptExhausted(ILogger logger, SocketError error, int suppressed);

    [LoggerMessage(1002, LogLevel.Warning, "Accept failed with {Error}")]
    public static partial void AcceptFailed(ILogger logger, SocketError error);

    [LoggerMessage(1003, LogLevel.Debug, "Connection {ConnectionId} from {RemoteEndPoint} closed: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, long connectionId, EndPoint? remoteEndPoint, ConnectionCloseReason reason);

    [LoggerMessage(1004, LogLevel.Error, "Connection {ConnectionId} failed unexpectedly")]
    public static partial void ConnectionFailed(ILogger logger, long connectionId, Exception exception);

    [LoggerMessage(1005, LogLevel.Error, "An accepted connection could not be set up")]
    public static partial void ConnectionSetupFailed(ILogger logger, Exception exception);

    [LoggerMessage(1006, LogLevel.Debug, "Connection {ConnectionId} from {RemoteEndPoint}: TLS handshake failed: {Reason}")]
    public static partial void TlsHandshakeFailed(ILogger logger, long connectionId, EndPoint? remoteEndPoint, string reason);

    [LoggerMessage(1007, LogLevel.Information, "TLS certificate loaded from {CertPath}: {Subject}, valid until {NotAfter:u}")]
    public static partial void TlsCertificateLoaded(ILogger logger, string certPath, string subject, DateTime notAfter);

    [LoggerMessage(1008, LogLevel.Warning, "TLS certificate files changed but could not be loaded ({Reason}); new handshakes keep the previous certificate")]
    public static partial void TlsCertificateReloadFailed(ILogger logger, string reason);
}
