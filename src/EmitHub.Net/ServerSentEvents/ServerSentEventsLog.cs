using Microsoft.Extensions.Logging;

namespace EmitHub.Net.ServerSentEvents;

/// <summary>Log messages of the SSE transport.</summary>
internal static partial class ServerSentEventsLog
{
    [LoggerMessage(EventId = 601, Level = LogLevel.Warning, Message = "SSE stream {ConnectionId} ended as a slow consumer: more than {MaxPendingBytes} bytes were waiting")]
    public static partial void SlowConsumer(ILogger logger, Guid connectionId, long maxPendingBytes);

    [LoggerMessage(EventId = 602, Level = LogLevel.Debug, Message = "SSE request refused with {Status}: {Reason}")]
    public static partial void Refused(ILogger logger, int status, string reason);
}
