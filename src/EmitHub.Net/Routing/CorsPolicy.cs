using EmitHub.Core.Configuration;
using EmitHub.Net.Http;

namespace EmitHub.Net.Routing;

/// <summary>The CORS decision for one request (Fetch standard; SPEC §2, §6).</summary>
/// <param name="AllowOrigin">Value of <c>Access-Control-Allow-Origin</c>, or null when the origin is not allowed.</param>
/// <param name="VaryByOrigin">True when the answer depends on <c>Origin</c> (then <c>Vary: Origin</c> is sent).</param>
public readonly record struct CorsDecision(string? AllowOrigin, bool VaryByOrigin);

/// <summary>
/// CORS from <c>[cors]</c>: <c>allowed_origins</c> holds exact origins, <c>"*"</c> (any origin; the answer is then
/// <c>*</c> and never paired with credentials) or <c>"localhost"</c> (<c>http://localhost</c> and
/// <c>http://127.0.0.1</c> on any port). A disallowed origin gets no <c>Access-Control-Allow-*</c> headers.
/// </summary>
public static class CorsPolicy
{
    /// <summary>Decides for <paramref name="origin"/> (null when the request had no Origin).</summary>
    public static CorsDecision Evaluate(CorsOptions options, string? origin)
    {
        foreach (var entry in options.AllowedOrigins)
        {
            if (entry == "*")
            {
                return new CorsDecision(origin == null ? null : "*", VaryByOrigin: false);
            }
        }
        if (origin == null)
        {
            return new CorsDecision(null, VaryByOrigin: true);
        }
        foreach (var entry in options.AllowedOrigins)
        {
            if (entry.Equals("localhost", StringComparison.OrdinalIgnoreCase)
                ? IsLoopbackHttpOrigin(origin)
                : string.Equals(entry.TrimEnd('/'), origin, StringComparison.OrdinalIgnoreCase))
            {
                return new CorsDecision(origin, VaryByOrigin: true);
            }
        }
        return new CorsDecision(null, VaryByOrigin: true);
    }

    /// <summary>True for <c>http://localhost[:port]</c> and <c>http://127.0.0.1[:port]</c>.</summary>
    public static bool IsLoopbackHttpOrigin(string origin)
    {
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp ||
            uri.AbsolutePath != "/" || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.UserInfo) ||
            origin.EndsWith('/'))
        {
            return false;
        }
        return uri.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || uri.Host == "127.0.0.1";
    }

    /// <summary>True when <paramref name="origin"/> may open a WebSocket (absent Origin, from non-browser clients, is allowed).</summary>
    public static bool IsOriginAllowed(CorsOptions options, string? origin) =>
        origin == null || Evaluate(options, origin).AllowOrigin != null;

    /// <summary>Adds the headers of an actual (non-preflight) response.</summary>
    public static void Apply(HttpResponse response, CorsDecision decision)
    {
        if (decision.AllowOrigin != null)
        {
            response.AddHeader("Access-Control-Allow-Origin", decision.AllowOrigin);
            response.AddHeader("Access-Control-Expose-Headers", "Location, Retry-After");
        }
        if (decision.VaryByOrigin)
        {
            response.AddHeader("Vary", "Origin");
        }
    }

    /// <summary>Answers a preflight (<c>OPTIONS</c> with <c>Access-Control-Request-Method</c>): 204, with the configured
    /// methods, headers and max age when the origin is allowed, with no <c>Access-Control-Allow-*</c> otherwise.</summary>
    public static void WritePreflight(HttpResponse response, CorsOptions options, CorsDecision decision)
    {
        response.WriteEmpty(204);
        if (decision.AllowOrigin != null)
        {
            response.AddHeader("Access-Control-Allow-Origin", decision.AllowOrigin);
            response.AddHeader("Access-Control-Allow-Methods", string.Join(", ", options.AllowedMethods));
            response.AddHeader("Access-Control-Allow-Headers", string.Join(", ", options.AllowedHeaders));
            response.AddHeader("Access-Control-Max-Age", options.MaxAge.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        if (decision.VaryByOrigin)
        {
            response.AddHeader("Vary", "Origin");
        }
    }
}
