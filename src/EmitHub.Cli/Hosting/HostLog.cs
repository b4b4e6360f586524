using Microsoft.Extensions.Logging;

namespace EmitHub.Cli.Hosting;

/// <summary>
/// Log events of the CLI host: startup lines (the seed's wording), shutdown, configuration warnings and hot
/// reload. Event ids 1–99 are reserved for EmitHub.Cli.
/// </summary>
internal static partial class HostLog
{
    /// <summary>Category of the host's logs; matches the seed's <c>INFO emit_hub: …</c> lines.</summary>
    public const string Category = "emit_hub";

    [LoggerMessage(1, LogLevel.Information, "🚀 EmitHub - Real-time Broadcasting Service {Version}, docs at {DocsUrl}")]
    public static partial void Banner(ILogger logger, string version, string docsUrl);

    [LoggerMessage(2, LogLevel.Information, "📡 Starting EmitHub on {Host}:{Port}")]
    public static partial void Starting(ILogger logger, string host, int port);

    [LoggerMessage(3, LogLevel.Information, "💾 Database: {DbPath}")]
    public static partial void Database(ILogger logger, string dbPath);

    [LoggerMessage(4, LogLevel.Information, "🔌 Max connections per channel: {MaxConnections}")]
    public static partial void MaxConnections(ILogger logger, int maxConnections);

    [LoggerMessage(5, LogLevel.Information, "✅ Application state initialized successfully")]
    public static partial void Initialized(ILogger logger);

    [LoggerMessage(6, LogLevel.Information, "🛑 Shutting down EmitHub")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(7, LogLevel.Information, "👋 EmitHub stopped")]
    public static partial void Stopped(ILogger logger);

    // Event id 8 was the missing-api_key warning; HubServer logs it (1200), once, with the address it bound.

    [LoggerMessage(9, LogLevel.Warning, "{Message}")]
    public static partial void ConfigWarning(ILogger logger, string message);

    [LoggerMessage(10, LogLevel.Information, "📄 Configuration file: {Path}")]
    public static partial void ConfigFileUsed(ILogger logger, string path);

    [LoggerMessage(11, LogLevel.Information, "📄 No configuration file ({Path} not found): using defaults and EMIT_HUB_* variables")]
    public static partial void ConfigFileAbsent(ILogger logger, string path);

    [LoggerMessage(12, LogLevel.Information, "🔄 Configuration reloaded from {Path}")]
    public static partial void ConfigReloaded(ILogger logger, string path);

    [LoggerMessage(13, LogLevel.Information, "🔧 {Key} changed: {OldValue} -> {NewValue}")]
    public static partial void ConfigKeyChanged(ILogger logger, string key, string oldValue, string newValue);

    [LoggerMessage(14, LogLevel.Warning,
        "{Key} changed in {Path} ({OldValue} -> {NewValue}) but needs a restart to take effect; the server keeps {RunningValue} until then")]
    public static partial void ConfigRestartRequired(ILogger logger, string key, string path, string oldValue, string newValue, string runningValue);

    [LoggerMessage(15, LogLevel.Error, "Configuration file {Path} was not applied; the running configuration stays. {Error}")]
    public static partial void ConfigReloadRejected(ILogger logger, string path, string error);

    [LoggerMessage(16, LogLevel.Warning, "Configuration file {Path} was removed; the running configuration stays")]
    public static partial void ConfigFileRemoved(ILogger logger, string path);

    [LoggerMessage(17, LogLevel.Debug, "Configuration file {Path} changed but no setting in effect changed")]
    public static partial void ConfigReloadNoChange(ILogger logger, string path);

    [LoggerMessage(18, LogLevel.Error, "Configuration reload failed unexpectedly; the running configuration stays")]
    public static partial void ConfigReloadFailed(ILogger logger, Exception exception);

    [LoggerMessage(19, LogLevel.Critical, "EmitHub failed to start")]
    public static partial void StartupFailed(ILogger logger, Exception exception);
}
