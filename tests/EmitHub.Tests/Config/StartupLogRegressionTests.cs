using EmitHub.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace EmitHub.Tests.Config;

/// <summary>Startup log lines of the real binary that review found wrong (issue 9).</summary>
[Collection(EmitHub.Tests.Persistence.PersistenceProcessCollection.Name)]
public sealed class StartupLogRegressionTests : IDisposable
{
    private const int SigTerm = 15;

    private readonly string _dir = ConfigTestHelpers.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // Bug: the host and the HTTP server each warned, in two wordings, so the warning appeared twice.
    [Fact]
    public async Task The_missing_api_key_warning_on_a_public_address_is_logged_once()
    {
        var port = EmitHubProcess.FreePort();
        var env = new Dictionary<string, string> { ["EMIT_HUB_HOST"] = "0.0.0.0", ["EMIT_HUB_PORT"] = port.ToString(), ["EMIT_HUB_DB_PATH"] = "data" };
        using var server = EmitHubProcess.Start(_dir, env);
        await server.WaitForLineAsync("Application state initialized successfully");
        server.Signal(SigTerm);
        Assert.Equal(0, await server.WaitForExitAsync());

        var warnings = server.Stdout.Split('\n').Where(l => l.Contains("api_key", StringComparison.OrdinalIgnoreCase) ||
            l.Contains("API key", StringComparison.OrdinalIgnoreCase)).ToList();
        var warning = Assert.Single(warnings);
        Assert.Contains(" WARN ", warning, StringComparison.Ordinal);
        Assert.Contains($"0.0.0.0:{port}", warning, StringComparison.Ordinal);
        Assert.Contains("EMIT_HUB_API_KEY", warning, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.0.0.0", null, 1)]
    [InlineData("0.0.0.0", "k", 0)]
    [InlineData("127.0.0.1", null, 0)]
    [InlineData("localhost", null, 0)]
    public async Task The_server_warns_about_a_missing_api_key_only_on_a_non_loopback_address(string host, string? apiKey, int warnings)
    {
        var log = new ListLogger();
        using var factory = LoggerFactory.Create(b => b.AddProvider(new SingleLoggerProvider(log)));
        await using (await TestHubServer.StartAsync(o => { o.Host = host; o.ApiKey = apiKey; }, loggerFactory: factory))
        {
        }
        Assert.Equal(warnings, log.Lines.Count(l => l.Level == LogLevel.Warning && l.Message.Contains("No api_key", StringComparison.Ordinal)));
    }

    private sealed class SingleLoggerProvider(ILogger logger) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => logger;

        public void Dispose()
        {
        }
    }
}
