using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace EmitHub.Net.WebSockets;

/// <summary>
/// Logs a WebSocket handshake refused for its <c>Origin</c> at <c>info</c>, naming the setting that would allow it,
/// at most once per origin per minute: an operator whose kiosk page cannot connect sees why without debug logging,
/// and a browser retrying every second does not flood the log. At most <see cref="MaxTrackedOrigins"/> origins are
/// remembered (a client can send any text as Origin), so memory stays bounded.
/// </summary>
internal sealed class RefusedOriginLog(ILogger logger, TimeProvider time)
{
    /// <summary>Time between two lines about the same origin: one minute.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    /// <summary>Origins remembered at once; past this the memory is cleared (a few repeated lines at worst).</summary>
    public const int MaxTrackedOrigins = 1024;

    /// <summary>Longest origin text logged and remembered; longer ones are cut (a real origin is far shorter).</summary>
    public const int MaxOriginLength = 200;

    private readonly ConcurrentDictionary<string, long> _lastLogged = new(StringComparer.Ordinal);

    /// <summary>Logs the refusal of <paramref name="origin"/> unless it was logged less than a minute ago.</summary>
    /// <returns>True when a line was written.</returns>
    public bool Refused(string origin)
    {
        if (!logger.IsEnabled(LogLevel.Information))
        {
            return false;
        }
        var key = origin.Length <= MaxOriginLength ? origin : origin[..MaxOriginLength] + "…";
        var now = time.GetTimestamp();
        if (_lastLogged.TryGetValue(key, out var last) && time.GetElapsedTime(last, now) < Interval)
        {
            return false;
        }
        if (_lastLogged.Count >= MaxTrackedOrigins)
        {
            _lastLogged.Clear();
        }
        _lastLogged[key] = now;
        WebSocketLog.OriginRefused(logger, key);
        return true;
    }
}
