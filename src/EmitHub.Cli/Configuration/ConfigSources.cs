using EmitHub.Core.Configuration;

namespace EmitHub.Cli.Configuration;

/// <summary>
/// Everything the configuration is computed from, already read: the TOML file's text, the environment, and the
/// command-line overrides. <see cref="ConfigLoader.Load"/> is a pure function of this, so tests need no files or
/// processes and hot reload recomputes with the same environment and command line.
/// </summary>
public sealed class ConfigSources
{
    /// <summary>Path of the TOML file, used in messages; null when no file is used.</summary>
    public string? FilePath { get; init; }

    /// <summary>Text of the TOML file; null when no file is used.</summary>
    public string? FileText { get; init; }

    /// <summary>Environment variables (only <c>EMIT_HUB_*</c> ones are looked at).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>Command-line overrides, applied last in the given order.</summary>
    public IReadOnlyList<CommandLineOverride> CommandLine { get; init; } = [];
}

/// <summary>A command-line option that sets a key, e.g. <c>--port 9000</c> sets <c>port</c>.</summary>
/// <param name="Option">The option as typed, for messages (<c>--port</c>).</param>
/// <param name="KeyPath">The dotted TOML path it sets (<c>port</c>).</param>
/// <param name="Value">The option's text.</param>
public readonly record struct CommandLineOverride(string Option, string KeyPath, string Value);

/// <summary>Severity of a <see cref="ConfigDiagnostic"/>.</summary>
public enum ConfigSeverity
{
    /// <summary>Logged at startup; the setting is ignored (unknown key or variable).</summary>
    Warning,

    /// <summary>Startup fails with exit code 2; on hot reload the whole file is ignored.</summary>
    Error,
}

/// <summary>
/// One finding of the loader. <see cref="Message"/> is a complete sentence naming where (file and line, variable or
/// option), the key, the value, and what is allowed.
/// </summary>
/// <param name="Severity">Warning or error.</param>
/// <param name="Message">The sentence shown to the operator.</param>
/// <param name="Key">The dotted key path or variable concerned, when there is one.</param>
/// <param name="Line">1-based line in the TOML file, when the finding comes from the file.</param>
public sealed record ConfigDiagnostic(ConfigSeverity Severity, string Message, string? Key, int? Line)
{
    /// <inheritdoc />
    public override string ToString() => Message;
}

/// <summary>The outcome of <see cref="ConfigLoader.Load"/>.</summary>
public sealed class ConfigLoadResult
{
    internal ConfigLoadResult(EmitHubOptions options, IReadOnlyList<ConfigDiagnostic> diagnostics, string? filePath,
        string? fileText)
    {
        Options = options;
        Diagnostics = diagnostics;
        FilePath = filePath;
        FileText = fileText;
    }

    /// <summary>The merged options. Meaningful only when <see cref="IsValid"/>.</summary>
    public EmitHubOptions Options { get; }

    /// <summary>Warnings and errors in the order found (file, then environment, then command line).</summary>
    public IReadOnlyList<ConfigDiagnostic> Diagnostics { get; }

    /// <summary>The TOML file used, or null.</summary>
    public string? FilePath { get; }

    /// <summary>The text of the TOML file as it was loaded, or null; hot reload compares the file against it.</summary>
    public string? FileText { get; }

    /// <summary>True when no error was found.</summary>
    public bool IsValid => !Diagnostics.Any(d => d.Severity == ConfigSeverity.Error);

    /// <summary>The errors only.</summary>
    public IEnumerable<ConfigDiagnostic> Errors => Diagnostics.Where(d => d.Severity == ConfigSeverity.Error);

    /// <summary>The warnings only.</summary>
    public IEnumerable<ConfigDiagnostic> Warnings => Diagnostics.Where(d => d.Severity == ConfigSeverity.Warning);
}
