using EmitHub.Cli.Configuration;
using EmitHub.Cli.Hosting;
using EmitHub.Cli.Logging;
using EmitHub.Core.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace EmitHub.Tests.Config;

public sealed class ConfigReloaderTests : IDisposable
{
    private readonly string _dir = ConfigTestHelpers.NewTempDir();
    private readonly string _path;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly ListLogger _log = new();

    public ConfigReloaderTests()
    {
        _path = Path.Combine(_dir, "emit_hub.toml");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (ConfigReloader Reloader, LiveOptions Live) Start(string toml, Dictionary<string, string>? env = null)
    {
        File.WriteAllText(_path, toml);
        var environment = env ?? new Dictionary<string, string>();
        var file = new ConfigFileChoice(_path, Required: true, "--config");
        var loaded = ConfigFile.Load(file, environment, []);
        Assert.True(loaded.IsValid);
        var live = new LiveOptions(loaded.Options);
        var startup = new StartupConfiguration(loaded, file, environment, []);
        return (new ConfigReloader(startup, live, _log, _time), live);
    }

    /// <summary>Polls, lets the debounce interval pass, and polls again: what the once-a-second timer does.</summary>
    private ReloadOutcome PollUntilSettled(ConfigReloader reloader)
    {
        var first = reloader.Poll();
        Assert.Equal(ReloadOutcome.Pending, first);
        _time.Advance(reloader.Debounce);
        return reloader.Poll();
    }

    [Fact]
    public void A_changed_log_level_is_applied_and_logged()
    {
        var (reloader, live) = Start("log_level = \"info\"\n");
        using var console = new EmitHubConsoleLoggerProvider(live, new StringWriter());
        var before = live.Current;

        File.WriteAllText(_path, "log_level = \"debug\"\n");
        var outcome = PollUntilSettled(reloader);

        Assert.Equal(ReloadOutcome.Applied, outcome);
        Assert.Equal("debug", live.Current.LogLevel);
        Assert.NotSame(before, live.Current);
        Assert.Equal(LogLevel.Debug, console.MinimumLevel);
        Assert.Contains(_log.Lines, l => l.Level == LogLevel.Information && l.Message == "🔧 log_level changed: info -> debug");
        Assert.Equal(ReloadOutcome.Unchanged, reloader.Poll());
    }

    [Fact]
    public void A_change_waits_until_the_file_is_stable()
    {
        var (reloader, live) = Start("log_level = \"info\"\n");

        File.WriteAllText(_path, "log_level = \"warn\"\n");
        Assert.Equal(ReloadOutcome.Pending, reloader.Poll());
        _time.Advance(reloader.Debounce / 2);
        // Written again before the debounce interval ended: the clock restarts.
        File.WriteAllText(_path, "log_level = \"error\"\n");
        Assert.Equal(ReloadOutcome.Pending, reloader.Poll());
        _time.Advance(reloader.Debounce / 2);
        Assert.Equal(ReloadOutcome.Pending, reloader.Poll());
        Assert.Equal("info", live.Current.LogLevel);
        _time.Advance(reloader.Debounce / 2);

        Assert.Equal(ReloadOutcome.Applied, reloader.Poll());
        Assert.Equal("error", live.Current.LogLevel);
    }

    [Fact]
    public void A_broken_file_is_logged_and_ignored_and_a_fixed_one_applies()
    {
        var (reloader, live) = Start("log_level = \"info\"\n[cors]\nmax_age = 100\n");
        var running = live.Current;

        File.WriteAllText(_path, "log_level = \"debug\"\n[cors\nmax_age = 5\n");
        Assert.Equal(ReloadOutcome.Rejected, PollUntilSettled(reloader));

        Assert.Same(running, live.Current);
        Assert.Contains(_log.Lines, l => l.Level == LogLevel.Error
            && l.Message.StartsWith($"Configuration file {_path} was not applied; the running configuration stays. {_path} line 2", StringComparison.Ordinal));
        // Logged once, not on every poll.
        var errors = _log.Lines.Count(l => l.Level == LogLevel.Error);
        Assert.Equal(ReloadOutcome.Unchanged, reloader.Poll());
        Assert.Equal(errors, _log.Lines.Count(l => l.Level == LogLevel.Error));

        File.WriteAllText(_path, "log_level = \"debug\"\n[cors]\nmax_age = 5\n");
        Assert.Equal(ReloadOutcome.Applied, PollUntilSettled(reloader));
        Assert.Equal("debug", live.Current.LogLevel);
        Assert.Equal(5, live.Current.Cors.MaxAge);
    }

    [Fact]
    public void An_invalid_value_rejects_the_whole_file()
    {
        var (reloader, live) = Start("log_level = \"info\"\n");

        File.WriteAllText(_path, "log_level = \"debug\"\nport = 0\n");

        Assert.Equal(ReloadOutcome.Rejected, PollUntilSettled(reloader));
        Assert.Equal("info", live.Current.LogLevel);
        Assert.Contains(_log.Lines, l => l.Message.Contains("port = 0 is not valid: port must be an integer from 1 to 65535.", StringComparison.Ordinal));
    }

    [Fact]
    public void Host_port_and_db_path_warn_that_a_restart_is_needed_and_keep_their_running_value()
    {
        var (reloader, live) = Start("port = 9000\n");

        File.WriteAllText(_path, "port = 9001\nhost = \"0.0.0.0\"\ndb_path = \"other\"\n[cors]\nmax_age = 7\n");

        Assert.Equal(ReloadOutcome.Applied, PollUntilSettled(reloader));
        Assert.Equal(9000, live.Current.Port);
        Assert.Equal("127.0.0.1", live.Current.Host);
        Assert.Equal("emit_hub_data", live.Current.DbPath);
        Assert.Equal(7, live.Current.Cors.MaxAge);
        var warnings = _log.Lines.Where(l => l.Level == LogLevel.Warning).Select(l => l.Message).ToList();
        Assert.Equal(3, warnings.Count);
        Assert.Contains($"port changed in {_path} (9000 -> 9001) but needs a restart to take effect; the server keeps 9000 until then", warnings);
        Assert.Contains(warnings, w => w.StartsWith("host changed", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.StartsWith("db_path changed", StringComparison.Ordinal));
    }

    [Fact]
    public void Environment_variables_still_win_over_a_reloaded_file()
    {
        var (reloader, live) = Start("log_level = \"info\"\n", new Dictionary<string, string> { ["EMIT_HUB_LOG_LEVEL"] = "warn" });
        Assert.Equal("warn", live.Current.LogLevel);

        File.WriteAllText(_path, "log_level = \"debug\"\n");

        Assert.Equal(ReloadOutcome.NoEffectiveChange, PollUntilSettled(reloader));
        Assert.Equal("warn", live.Current.LogLevel);
    }

    [Fact]
    public void A_removed_file_keeps_the_running_configuration()
    {
        var (reloader, live) = Start("log_level = \"debug\"\n");

        File.Delete(_path);

        Assert.Equal(ReloadOutcome.Removed, PollUntilSettled(reloader));
        Assert.Equal("debug", live.Current.LogLevel);
        Assert.Contains(_log.Lines, l => l.Level == LogLevel.Warning && l.Message.Contains("was removed", StringComparison.Ordinal));
    }

    [Fact]
    public void The_api_key_change_is_logged_without_its_value()
    {
        var (reloader, live) = Start("api_key = \"old-secret\"\n");

        File.WriteAllText(_path, "api_key = \"new-secret\"\n");

        Assert.Equal(ReloadOutcome.Applied, PollUntilSettled(reloader));
        Assert.Equal("new-secret", live.Current.ApiKey);
        Assert.Contains(_log.Lines, l => l.Message == "🔧 api_key changed: (hidden) -> (hidden)");
        Assert.DoesNotContain(_log.Lines, l => l.Message.Contains("secret", StringComparison.Ordinal));
    }
}
