using EmitHub.Cli.Configuration;

namespace EmitHub.Tests.Config;

/// <summary>The built emit-hub as a process: exit codes, signals, printed outputs.</summary>
[Collection(EmitHub.Tests.Persistence.PersistenceProcessCollection.Name)]
public sealed class CliProcessTests : IDisposable
{
    private const int SigTerm = 15;

    private readonly string _dir = ConfigTestHelpers.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteConfig(string toml)
    {
        var path = Path.Combine(_dir, "test.toml");
        File.WriteAllText(path, toml);
        return path;
    }

    [Fact]
    public async Task Version_prints_the_name_and_version()
    {
        var (code, stdout, _) = await EmitHubProcess.RunAsync(_dir, null, "--version");

        Assert.Equal(0, code);
        Assert.Equal("emit-hub 0.1.0\n", stdout);
    }

    [Fact]
    public async Task Generate_config_prints_exactly_the_template()
    {
        var (code, stdout, _) = await EmitHubProcess.RunAsync(_dir, null, "--generate-config");

        Assert.Equal(0, code);
        Assert.Equal(ConfigTemplate.Generate(), stdout);
    }

    [Fact]
    public async Task Show_env_vars_prints_the_current_values()
    {
        var env = new Dictionary<string, string> { ["EMIT_HUB_PORT"] = "4321" };

        var (code, stdout, _) = await EmitHubProcess.RunAsync(_dir, env, "--show-env-vars");

        Assert.Equal(0, code);
        Assert.Contains("EMIT_HUB_PORT  (TOML: port)\n    TCP port of the HTTP and WebSocket listener.\n    default: 8080\n    current: 4321\n",
            stdout, StringComparison.Ordinal);
    }

    public static TheoryData<string, string[], string, string> BadConfigurations => new()
    {
        { "port = 0\n", [], "", "test.toml line 1: port = 0 is not valid: port must be an integer from 1 to 65535." },
        { "", ["--port", "70000"], "", "Option --port \"70000\" is not valid: port must be an integer from 1 to 65535." },
        { "", [], "EMIT_HUB_LOG_LEVEL=loud", "Environment variable EMIT_HUB_LOG_LEVEL=\"loud\" is not valid: log_level must be one of \"trace\", \"debug\", \"info\", \"warn\", \"error\"." },
        { "", ["--config", "missing.toml"], "", "Configuration file missing.toml (named by --config) does not exist." },
        { "", ["--no-such-option"], "", "emit-hub: Unrecognized command or argument '--no-such-option'." },
        { "db_path = \"test.toml\"\n", [], "", "db_path \"test.toml\" is an existing file: db_path must be a directory (created if missing)." },
    };

    [Theory]
    [MemberData(nameof(BadConfigurations))]
    public async Task A_bad_configuration_exits_2_with_the_sentence_on_stderr(string toml, string[] args, string env, string expected)
    {
        var environment = new Dictionary<string, string>();
        if (env.Length > 0)
        {
            var eq = env.IndexOf('=', StringComparison.Ordinal);
            environment[env[..eq]] = env[(eq + 1)..];
        }
        if (toml.Length > 0)
        {
            environment["EMIT_HUB_CONFIG"] = "test.toml";
            WriteConfig(toml);
        }

        var (code, stdout, stderr) = await EmitHubProcess.RunAsync(_dir, environment, args);

        Assert.Equal(2, code);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Starting EmitHub", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_running_server_applies_an_edited_log_level_and_exits_0_on_SIGTERM()
    {
        var port = EmitHubProcess.FreePort();
        var config = WriteConfig($"port = {port}\ndb_path = \"data\"\nlog_level = \"info\"\n");
        using var server = EmitHubProcess.Start(_dir, null, "--config", config);

        await server.WaitForLineAsync("✅ Application state initialized successfully");
        Assert.Contains($"🚀 EmitHub - Real-time Broadcasting Service\n   Version: 0.1.0\n   Docs: http://127.0.0.1:{port}/docs\n", server.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("your-org", server.Stdout, StringComparison.Ordinal);
        Assert.Contains($" INFO emit_hub: 📡 Starting EmitHub on 127.0.0.1:{port}\n", server.Stdout, StringComparison.Ordinal);
        Assert.Contains(" INFO emit_hub: 💾 Database: data\n", server.Stdout, StringComparison.Ordinal);
        Assert.Contains(" INFO emit_hub: 🔌 Max connections per channel: 1000\n", server.Stdout, StringComparison.Ordinal);

        File.WriteAllText(config, $"port = {port}\ndb_path = \"data\"\nlog_level = \"debug\"\n");
        await server.WaitForLineAsync("🔧 log_level changed: info -> debug");

        server.Signal(SigTerm);
        var code = await server.WaitForExitAsync();

        Assert.Equal(0, code);
        Assert.Contains("👋 EmitHub stopped", server.Stdout, StringComparison.Ordinal);
    }

    // SIGINT takes the same path in the host's console lifetime, but a child of a non-interactive shell may
    // inherit SIGINT as ignored, so the process test uses SIGTERM.
    [Fact]
    public async Task Json_logs_are_one_object_per_line_from_start_to_stop()
    {
        var port = EmitHubProcess.FreePort();
        var env = new Dictionary<string, string>
        {
            ["EMIT_HUB_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["EMIT_HUB_DB_PATH"] = "data",
            ["EMIT_HUB_LOG_FORMAT"] = "json",
        };
        using var server = EmitHubProcess.Start(_dir, env);
        await server.WaitForLineAsync("Application state initialized successfully");

        server.Signal(SigTerm);
        var code = await server.WaitForExitAsync();

        Assert.Equal(0, code);
        // JSON mode: every stdout line is a JSON object, the banner included; the host's own lines carry the
        // seed's target, the server's components their category.
        var targets = new List<string>();
        foreach (var line in server.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var json = System.Text.Json.JsonDocument.Parse(line);
            targets.Add(json.RootElement.GetProperty("target").GetString()!);
            Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("message").GetString()));
        }
        Assert.True(targets.Count(t => t == "emit_hub") >= 5, string.Join(", ", targets));
        Assert.Contains("EmitHub stopped", server.Stdout, StringComparison.Ordinal);
    }
}
