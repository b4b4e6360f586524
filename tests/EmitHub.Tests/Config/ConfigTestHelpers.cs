using EmitHub.Cli.Configuration;
using Microsoft.Extensions.Logging;

namespace EmitHub.Tests.Config;

internal static class ConfigTestHelpers
{
    public static ConfigLoadResult LoadToml(string toml, IReadOnlyDictionary<string, string>? env = null,
        params CommandLineOverride[] cli) =>
        ConfigLoader.Load(new ConfigSources
        {
            FilePath = "x.toml",
            FileText = toml,
            Environment = env ?? new Dictionary<string, string>(),
            CommandLine = cli,
        });

    public static ConfigLoadResult LoadEnv(params (string Name, string Value)[] env) =>
        ConfigLoader.Load(new ConfigSources { Environment = env.ToDictionary(e => e.Name, e => e.Value) });

    /// <summary>The repository root (the directory holding EmitHub.sln), found from the test's output directory.</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EmitHub.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("EmitHub.sln not found above " + AppContext.BaseDirectory);
    }

    public static string NewTempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "emit-hub-config-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}

/// <summary>An ILogger that records formatted lines with their level.</summary>
internal sealed class ListLogger : ILogger
{
    private readonly List<(LogLevel Level, string Message)> _lines = [];

    public IReadOnlyList<(LogLevel Level, string Message)> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
        Func<TState, Exception?, string> formatter)
    {
        lock (_lines)
        {
            _lines.Add((logLevel, formatter(state, exception)));
        }
    }
}
