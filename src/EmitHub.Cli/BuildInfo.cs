using System.Reflection;

namespace EmitHub.Cli;

/// <summary>Version and links shown by <c>--version</c>, the startup banner and <c>/health</c>.</summary>
public static class BuildInfo
{
    /// <summary>The product version, e.g. <c>0.1.0</c> (from the assembly, without the source-revision suffix).</summary>
    public static string Version { get; } = ReadVersion();

    /// <summary>
    /// The address of this server's <c>/docs</c> page, printed in the banner where the seed printed a placeholder
    /// repository: <c>http://HOST:PORT/docs</c> (<c>https</c> with <c>[tls]</c>). A wildcard bind address
    /// (<c>0.0.0.0</c>, <c>::</c>) is shown as <c>localhost</c>, the name that opens in a browser on the same machine;
    /// an IPv6 literal is bracketed (RFC 3986 §3.2.2).
    /// </summary>
    public static string DocsUrl(EmitHub.Core.Configuration.EmitHubOptions options)
    {
        var host = options.Host;
        if (host is "0.0.0.0" or "::" or "[::]" or "*" or "")
        {
            host = "localhost";
        }
        else if (host.Contains(':') && !host.StartsWith('['))
        {
            host = "[" + host + "]";
        }
        var scheme = options.Tls.Enabled ? "https" : "http";
        return $"{scheme}://{host}:{options.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}/docs";
    }

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
