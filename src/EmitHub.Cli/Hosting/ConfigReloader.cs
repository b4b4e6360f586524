using EmitHub.Cli.Configuration;
using EmitHub.Core.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EmitHub.Cli.Hosting;

/// <summary>What one <see cref="ConfigReloader.Poll"/> did.</summary>
public enum ReloadOutcome
{
    /// <summary>The file is as last processed.</summary>
    Unchanged,

    /// <summary>The file changed and is waiting to be stable for the debounce interval.</summary>
    Pending,

    /// <summary>A valid file changed at least one live setting; <see cref="LiveOptions.Update"/> was called.</summary>
    Applied,

    /// <summary>A valid file changed nothing in effect (comments, values overridden by env/CLI, restart-only keys).</summary>
    NoEffectiveChange,

    /// <summary>The file is invalid (syntax, type, range) or unreadable; the running configuration stays.</summary>
    Rejected,

    /// <summary>The file was removed; the running configuration stays.</summary>
    Removed,
}

/// <summary>
/// Hot reload of the TOML file (SPEC §1). Each <see cref="Poll"/> reads the file; a change is acted on once the
/// content has stayed the same for <see cref="Debounce"/> (editors write in several steps). A valid file is merged
/// with the startup environment and command line (which still win), live keys are applied through
/// <see cref="LiveOptions.Update"/> and logged one by one, restart-only keys (host, port, db_path) log a warning
/// and keep their running value. An invalid file is logged and ignored.
/// </summary>
/// <remarks>
/// Polling the content rather than using FileSystemWatcher: inotify misses the symlink swap Kubernetes uses to
/// update mounted ConfigMaps and editors' rename-over writes on some file systems, and is limited per user; reading
/// a few KiB once a second costs nothing. Driven by <see cref="TimeProvider"/> so tests move time by hand.
/// </remarks>
public sealed class ConfigReloader
{
    private readonly StartupConfiguration _startup;
    private readonly LiveOptions _live;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private string? _processedText;
    private string? _pendingText;
    private bool _hasPending;
    private DateTimeOffset _pendingSince;
    private EmitHubOptions _lastLoaded;

    /// <summary>Creates the reloader; the startup file text counts as already processed.</summary>
    public ConfigReloader(StartupConfiguration startup, LiveOptions live, ILogger logger, TimeProvider time)
    {
        _startup = startup;
        _live = live;
        _logger = logger;
        _time = time;
        _processedText = startup.Loaded.FileText;
        _lastLoaded = ConfigKeys.Clone(live.Startup);
    }

    /// <summary>How long the file's content must stay unchanged before it is applied. Default 500 ms.</summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The watched file.</summary>
    public string FilePath => _startup.File.Path;

    /// <summary>Reads the file once and acts on a stable change. Safe to call from any thread.</summary>
    public ReloadOutcome Poll()
    {
        lock (_gate)
        {
            string? text;
            if (!ConfigFile.TryRead(FilePath, out text, out var readError))
            {
                // Treat an unreadable file as one more content, so its error is logged once, not every second.
                text = "\0unreadable\0" + readError;
            }
            if (text == _processedText)
            {
                _hasPending = false;
                return ReloadOutcome.Unchanged;
            }
            var now = _time.GetUtcNow();
            if (!_hasPending || text != _pendingText)
            {
                _hasPending = true;
                _pendingText = text;
                _pendingSince = now;
                return ReloadOutcome.Pending;
            }
            if (now - _pendingSince < Debounce)
            {
                return ReloadOutcome.Pending;
            }

            _hasPending = false;
            _processedText = text;
            if (readError is not null)
            {
                HostLog.ConfigReloadRejected(_logger, FilePath, readError);
                return ReloadOutcome.Rejected;
            }
            if (text is null)
            {
                HostLog.ConfigFileRemoved(_logger, FilePath);
                return ReloadOutcome.Removed;
            }
            return Apply(text);
        }
    }

    private ReloadOutcome Apply(string text)
    {
        var result = ConfigLoader.Load(new ConfigSources
        {
            FilePath = FilePath,
            FileText = text,
            Environment = _startup.Environment,
            CommandLine = _startup.CommandLine,
        });
        if (!result.IsValid)
        {
            foreach (var error in result.Errors)
            {
                HostLog.ConfigReloadRejected(_logger, FilePath, error.Message);
            }
            return ReloadOutcome.Rejected;
        }
        foreach (var warning in result.Warnings)
        {
            HostLog.ConfigWarning(_logger, warning.Message);
        }

        var loaded = result.Options;
        var next = ConfigKeys.Clone(loaded);
        var current = _live.Current;
        var changes = new List<(ConfigKey Key, string Old, string New)>();
        foreach (var key in ConfigKeys.All)
        {
            if (key.RestartRequired)
            {
                if (!key.ValueEquals(_lastLoaded, loaded) && !key.ValueEquals(_live.Startup, loaded))
                {
                    HostLog.ConfigRestartRequired(_logger, key.Path, FilePath, Display(key, _lastLoaded),
                        Display(key, loaded), Display(key, _live.Startup));
                }
                key.Copy(_live.Startup, next);
            }
            else if (!key.ValueEquals(current, next))
            {
                changes.Add((key, Display(key, current), Display(key, next)));
            }
        }
        _lastLoaded = loaded;

        if (changes.Count == 0)
        {
            HostLog.ConfigReloadNoChange(_logger, FilePath);
            return ReloadOutcome.NoEffectiveChange;
        }
        _live.Update(next);
        // Logged after the update so a lowered log level shows its own change.
        HostLog.ConfigReloaded(_logger, FilePath);
        foreach (var (key, oldValue, newValue) in changes)
        {
            HostLog.ConfigKeyChanged(_logger, key.Path, oldValue, newValue);
        }
        return ReloadOutcome.Applied;
    }

    private static string Display(ConfigKey key, EmitHubOptions options) => key.FormatDisplay(options) ?? "(unset)";
}

/// <summary>Polls the configuration file once a second for the lifetime of the host.</summary>
public sealed class ConfigReloadService : IHostedService, IDisposable
{
    /// <summary>Time between polls of the file.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    private readonly ConfigReloader _reloader;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private ITimer? _timer;
    private int _busy;

    /// <summary>Creates the service (resolved from DI).</summary>
    public ConfigReloadService(StartupConfiguration startup, LiveOptions live, ILoggerFactory loggerFactory, TimeProvider time)
    {
        _logger = loggerFactory.CreateLogger(HostLog.Category);
        _time = time;
        _reloader = new ConfigReloader(startup, live, _logger, time);
    }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _timer = _time.CreateTimer(static state => ((ConfigReloadService)state!).Tick(), this, PollInterval, PollInterval);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken)
    {
        _timer?.Dispose();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public void Dispose() => _timer?.Dispose();

    private void Tick()
    {
        // A slow disk must not stack up overlapping polls.
        if (Interlocked.Exchange(ref _busy, 1) != 0)
        {
            return;
        }
        try
        {
            _reloader.Poll();
        }
        catch (Exception ex)
        {
            HostLog.ConfigReloadFailed(_logger, ex);
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }
}
