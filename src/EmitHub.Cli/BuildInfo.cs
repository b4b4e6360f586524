namespace EmitHub.Cli;

/// <summary>Version and links shown by <c>--version</c>, the startup banner and <c>/health</c>.</summary>
public static class BuildInfo
{
    /// <summary>The product version, e.g. <c>0.1.0</c>: the one <c>/health</c> and <c>/</c> report
    /// (<see cref="EmitHub.Net.Server.HubServer.Version"/>), so the banner, <c>--version</c> and the API never disagree.</summary>
    public static string Version => EmitHub.Net.Server.HubServer.Version;

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
}
