namespace EmitHub.Cli;

/// <summary>Version and links shown by <c>--version</c>, the startup banner and <c>/health</c>.</summary>
public static class BuildInfo
{
    /// <summary>The product version, e.g. <c>0.1.0</c>: the one <c>/health</c> and <c>/</c> report
    /// (<see cref="EmitHub.Net.Server.HubServer.Version"/>), so the banner, <c>--version</c> and the API never disagree.</summary>
    public static string Version => EmitHub.Net.Server.HubServer.Version;

    /// <summary>The repository link printed in the banner (the seed's).</summary>
    public const string Repository = "https://github.com/your-org/emit-hub";
}
