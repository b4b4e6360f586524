using System.Net;
using EmitHub.Core.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EmitHub.Cli.Hosting;

/// <summary>
/// Runs EmitHub inside the generic host: logs the configuration warnings and the seed's startup lines, starts the
/// <see cref="IHubRuntime"/> (the seam where the server is wired in), and stops it on SIGINT/SIGTERM.
/// </summary>
public sealed class EmitHubHostedService : IHostedService
{
    private readonly LiveOptions _options;
    private readonly IHubRuntime _runtime;
    private readonly StartupConfiguration _startup;
    private readonly ILogger _logger;

    /// <summary>Creates the service (resolved from DI).</summary>
    public EmitHubHostedService(LiveOptions options, IHubRuntime runtime, StartupConfiguration startup, ILoggerFactory loggerFactory)
    {
        _options = options;
        _runtime = runtime;
        _startup = startup;
        _logger = loggerFactory.CreateLogger(HostLog.Category);
    }

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var options = _options.Startup;
        if (options.LogFormat == "json")
        {
            // The text banner is printed before the host starts; in JSON mode every line must be an object.
            HostLog.Banner(_logger, BuildInfo.Version, BuildInfo.DocsUrl(options));
        }
        if (_startup.Loaded.FilePath is { } path)
        {
            HostLog.ConfigFileUsed(_logger, path);
        }
        else
        {
            HostLog.ConfigFileAbsent(_logger, _startup.File.Path);
        }
        foreach (var warning in _startup.Loaded.Warnings)
        {
            HostLog.ConfigWarning(_logger, warning.Message);
        }

        HostLog.Starting(_logger, options.Host, options.Port);
        HostLog.Database(_logger, options.DbPath);
        HostLog.MaxConnections(_logger, options.MaxConnectionsPerChannel);
        await _runtime.StartAsync(cancellationToken).ConfigureAwait(false);
        HostLog.Initialized(_logger);
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        HostLog.Stopping(_logger);
        await _runtime.StopAsync(cancellationToken).ConfigureAwait(false);
        HostLog.Stopped(_logger);
    }
}
