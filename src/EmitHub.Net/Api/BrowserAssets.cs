using System.Reflection;
using System.Text;
using EmitHub.Net.Http;

namespace EmitHub.Net.Api;

/// <summary>
/// The browser files the hub serves from resources embedded in the binary (no files on disk, AOT-clean):
/// <c>/client/emithub.js</c> (the ES module), <c>/client/emithub.classic.js</c> (the same code as a classic script
/// that sets <c>window.EmitHub</c>, built here from the module by wrapping it, so there is one source) and
/// <c>/console</c> (the admin console, one self-contained HTML page).
/// </summary>
internal static class BrowserAssets
{
    /// <summary>Prefix of the client library paths.</summary>
    public const string ClientPathPrefix = "/client/";

    /// <summary>The ES module.</summary>
    public const string ModulePath = "/client/emithub.js";

    /// <summary>The classic-script build.</summary>
    public const string ClassicPath = "/client/emithub.classic.js";

    /// <summary>The admin console.</summary>
    public const string ConsolePath = "/console";

    /// <summary>The module's last line; the classic build replaces it with a global.</summary>
    private const string ExportLine = "export { EmitHub, subscribe };";

    private static readonly byte[] s_module = Read("EmitHub.Net.Browser.emithub.js");
    private static readonly byte[] s_classic = BuildClassic(s_module);
    private static readonly byte[] s_console = Read("EmitHub.Net.Browser.console.html");

    public static void Write(HttpResponse response, string path)
    {
        switch (path)
        {
            case ModulePath:
                response.WriteBytes(200, "text/javascript; charset=utf-8", s_module);
                response.AddHeader("Access-Control-Allow-Origin", "*");
                break;
            case ClassicPath:
                response.WriteBytes(200, "text/javascript; charset=utf-8", s_classic);
                response.AddHeader("Access-Control-Allow-Origin", "*");
                break;
            default:
                response.WriteBytes(200, "text/html; charset=utf-8", s_console);
                // The console holds the API key in sessionStorage: no framing by other sites.
                response.AddHeader("X-Frame-Options", "DENY");
                response.AddHeader("Content-Security-Policy", "frame-ancestors 'none'");
                break;
        }
        // Revalidated on every load, so an upgraded hub never runs with a stale client.
        response.AddHeader("Cache-Control", "no-cache");
        response.AddHeader("X-Content-Type-Options", "nosniff");
    }

    /// <summary>The module source as text (for tests and docs).</summary>
    public static string ModuleSource => Encoding.UTF8.GetString(s_module);

    private static byte[] Read(string name)
    {
        using var stream = typeof(BrowserAssets).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded resource {name} is missing from the build.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static byte[] BuildClassic(byte[] module)
    {
        var source = Encoding.UTF8.GetString(module);
        var at = source.LastIndexOf(ExportLine, StringComparison.Ordinal);
        if (at < 0)
        {
            throw new InvalidOperationException($"emithub.js must end with '{ExportLine}'.");
        }
        var classic = "/* emithub.classic.js: the ES module /client/emithub.js as a classic script; sets window.EmitHub. */\n" +
                      "(function (global) {\n\"use strict\";\n" + source[..at] +
                      "global.EmitHub = EmitHub;\n})(typeof globalThis !== \"undefined\" ? globalThis : this);\n";
        return Encoding.UTF8.GetBytes(classic);
    }
}
