using EmitHub.Cli.Configuration;

namespace EmitHub.Cli.Hosting;

/// <summary>
/// What the host was started with: the loaded configuration and the inputs it came from. Hot reload recomputes the
/// configuration from a changed file with the same environment and command line, so those still take precedence.
/// </summary>
/// <param name="Loaded">The startup load result (valid; its warnings are logged at startup).</param>
/// <param name="File">The TOML file in use or looked for (watched for hot reload).</param>
/// <param name="Environment">The <c>EMIT_HUB_*</c> variables at startup.</param>
/// <param name="CommandLine">The command-line overrides.</param>
public sealed record StartupConfiguration(
    ConfigLoadResult Loaded,
    ConfigFileChoice File,
    IReadOnlyDictionary<string, string> Environment,
    IReadOnlyList<CommandLineOverride> CommandLine);
