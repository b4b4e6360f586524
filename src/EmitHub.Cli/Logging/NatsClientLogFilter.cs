using Microsoft.Extensions.Logging;

namespace EmitHub.Cli.Logging;

/// <summary>
/// Keeps the NATS.Net client's own log lines (categories <c>NATS.Client.*</c>) to errors unless <c>log_level</c> is
/// debug or trace. During a NATS outage the client logs each failed reconnect attempt — every ~2 s — as a warning
/// with a full stack trace; the cluster store already logs the state changes that matter once each ("lost its NATS
/// connection", "NATS is back").
/// </summary>
public static class NatsClientLogFilter
{
    private const string CategoryPrefix = "NATS.Client.";

    /// <summary>
    /// True when a line of <paramref name="category"/> at <paramref name="level"/> may be written while the configured
    /// <c>log_level</c> is <paramref name="configured"/> (which still applies on top of this filter).
    /// </summary>
    public static bool Allows(string? category, LogLevel level, LogLevel configured) =>
        category is null
        || !category.StartsWith(CategoryPrefix, StringComparison.Ordinal)
        || level >= LogLevel.Error
        || configured <= LogLevel.Debug;
}
