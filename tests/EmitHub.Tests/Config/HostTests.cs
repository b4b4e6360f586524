using EmitHub.Cli.Configuration;
using EmitHub.Cli.Hosting;
using EmitHub.Cli.Logging;
using EmitHub.Core.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EmitHub.Tests.Config;

public class HostTests
{
    private sealed class RecordingRuntime(Exception? failOnStart = null) : IHubRuntime
    {
        public List<string> Calls { get; } = [];

        public ValueTask StartAsync(CancellationToken cancellationToken)
        {
            Calls.Add("start");
            return failOnStart is null ? ValueTask.CompletedTask : ValueTask.FromException(failOnStart);
        }

        public ValueTask StopAsync(CancellationToken cancellationToken)
        {
            Calls.Add("stop");
            return ValueTask.CompletedTask;
        }
    }

    private static (IHost Host, StringWriter Output, EmitHubConsoleLoggerProvider Logger, LiveOptions Live) Build(
        IHubRuntime runtime, params (string, string)[] env)
    {
        var loaded = ConfigTestHelpers.LoadEnv(env);
        Assert.True(loaded.IsValid);
        var startup = new StartupConfiguration(loaded, new ConfigFileChoice("absent.toml", false, "default"),
            env.ToDictionary(e => e.Item1, e => e.Item2), []);
        var live = new LiveOptions(loaded.Options);
        var output = new StringWriter();
        var logger = new EmitHubConsoleLoggerProvider(live, output);
        var host = EmitHubHost.Build(startup, live, logger, services => services.AddSingleton(runtime));
        return (host, output, logger, live);
    }

    [Fact]
    public async Task The_host_starts_the_runtime_between_the_startup_lines_and_stops_it()
    {
        var runtime = new RecordingRuntime();
        var (host, output, logger, live) = Build(runtime, ("EMIT_HUB_MAX_CONNECTIONS", "250"));

        await host.StartAsync();
        Assert.Same(live, host.Services.GetRequiredService<LiveOptions>());
        Assert.Equal(["start"], runtime.Calls);
        await host.StopAsync();
        host.Dispose();
        logger.Dispose();

        Assert.Equal(["start", "stop"], runtime.Calls);
        var messages = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l[(l.IndexOf(": ", StringComparison.Ordinal) + 2)..]).ToList();
        Assert.Equal(
        [
            "📄 No configuration file (absent.toml not found): using defaults and EMIT_HUB_* variables",
            "📡 Starting EmitHub on 127.0.0.1:8080",
            "💾 Database: emit_hub_data",
            "🔌 Max connections per channel: 250",
            "✅ Application state initialized successfully",
            "🛑 Shutting down EmitHub",
            "👋 EmitHub stopped",
        ], messages);
    }

    [Fact]
    public async Task A_runtime_that_fails_to_start_fails_the_host_before_the_ready_line()
    {
        var (host, output, logger, _) = Build(new RecordingRuntime(new IOException("address already in use")));

        var ex = await Assert.ThrowsAsync<IOException>(() => host.StartAsync());
        host.Dispose();
        logger.Dispose();

        Assert.Equal("address already in use", ex.Message);
        Assert.DoesNotContain("initialized successfully", output.ToString(), StringComparison.Ordinal);
    }
}
