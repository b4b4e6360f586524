using System.Reflection;

namespace EmitHub.Cli;

/// <summary>Version and links shown by <c>--version</c>, the startup banner and (later) <c>/health</c>.</summary>
public static class BuildInfo
{
    /// <summary>The product version, e.g. <c>0.1.0</c> (from the assembly, without the source-revision suffix).</summary>
    public static string Version { get; } = ReadVersion();

    /// <summary>The repository link printed in the banner (the seed's).</summary>
    public const string Repository = "https://github.com/your-org/emit-hub";

    private static string ReadVersion()
    {
        var informational = typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrEmpty(informational))
        {
            return typeof(BuildInfo).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
        }
        // The SDK appends "+<commit>" (SourceLink); the user-facing version is the part before it.
        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? informational : informational[..plus];
    }
}
