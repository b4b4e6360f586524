using System.Net;
using Microsoft.Extensions.Logging;

namespace EmitHub.Net.Server;

/// <summary>Log messages of <see cref="HubServer"/> (event ids 1200–1299).</summary>
internal static partial class ServerLog
{
    [LoggerMessage(1200, LogLevel.Warning, "⚠️ No api_key is set and EmitHub listens on {EndPoint}, which is not a loopback address: anyone who can reach it can create channels and broadcast. Set api_key in the TOML file or EMIT_HUB_API_KEY.")]
    public static partial void NoApiKeyOnPublicAddress(ILogger logger, EndPoint endPoint);

    [LoggerMessage(1201, LogLevel.Information, "Stopping: {Count} connections open")]
    public static partial void Stopping(ILogger logger, int count);

    [LoggerMessage(1202, LogLevel.Information, "Stopped; {Aborted} connections had to be aborted")]
    public static partial void Stopped(ILogger logger, int aborted);

    [LoggerMessage(1203, LogLevel.Information, "Connection storm settled at {Open} connections: compacted the heap in {PauseMs:F0} ms, resident memory {RssBeforeMb:F1} -> {RssAfterMb:F1} MB")]
    public static partial void StormCompacted(ILogger logger, int open, double pauseMs, double rssBeforeMb, double rssAfterMb);
}
