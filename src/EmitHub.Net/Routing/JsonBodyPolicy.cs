using EmitHub.Core.Configuration;
using EmitHub.Net.Http;

namespace EmitHub.Net.Routing;

/// <summary>How a request's <c>Content-Type</c> relates to a JSON body (SPEC §4).</summary>
public enum JsonBodyMediaType
{
    /// <summary><c>application/json</c>, parameters allowed (RFC 9110 §8.3.1).</summary>
    Json,

    /// <summary>No <c>Content-Type</c>, or curl's default <c>application/x-www-form-urlencoded</c>: read as JSON when
    /// the request is not cross-site (the seed's own curl examples send bodies this way).</summary>
    Untyped,

    /// <summary>Any other explicit media type (<c>text/plain</c>, <c>text/xml</c>, <c>multipart/form-data</c>…), or
    /// <c>application/json</c> with a charset other than UTF-8: 415.</summary>
    Other,
}

/// <summary>
/// Decides whether a REST body is read as JSON (SPEC §4). <c>application/json</c> always is. A body with no
/// <c>Content-Type</c> or with <c>application/x-www-form-urlencoded</c> (what <c>curl -d</c> sends) is read as JSON
/// only when the request has no <c>Origin</c> (curl, scripts) or an origin in <c>[cors] allowed_origins</c>: those
/// two types are what a hostile page can send cross-site without a CORS preflight, so from any other origin they
/// stay refused (403) — that refusal is what protects a hub that has no API key from cross-site form posts.
/// </summary>
public static class JsonBodyPolicy
{
    /// <summary>The media type curl sends with <c>-d</c> when no <c>Content-Type</c> is given.</summary>
    public const string FormUrlEncoded = "application/x-www-form-urlencoded";

    /// <summary>Classifies a <c>Content-Type</c> value (null when the field is absent).</summary>
    public static JsonBodyMediaType Classify(string? contentType)
    {
        if (contentType == null)
        {
            return JsonBodyMediaType.Untyped;
        }
        if (Router.IsJsonContentType(contentType))
        {
            return JsonBodyMediaType.Json;
        }
        var semicolon = contentType.IndexOf(';');
        var mediaType = (semicolon < 0 ? contentType : contentType[..semicolon]).Trim(' ', '\t');
        return mediaType.Length == 0 || mediaType.Equals(FormUrlEncoded, StringComparison.OrdinalIgnoreCase)
            ? JsonBodyMediaType.Untyped
            : JsonBodyMediaType.Other;
    }

    /// <summary>
    /// True when the body of <paramref name="context"/> may be read as JSON; otherwise writes 415 (another media
    /// type) or 403 (an untyped body from an origin that is not allowed), each with a sentence saying what to send.
    /// </summary>
    public static bool Admit(HttpRequestContext context, CorsOptions cors)
    {
        var contentType = context.Head.GetField("Content-Type");
        switch (Classify(contentType))
        {
            case JsonBodyMediaType.Json:
                return true;
            case JsonBodyMediaType.Other:
                context.Response.WriteError(415, "unsupported_media_type",
                    $"The body must be JSON in UTF-8: send 'Content-Type: application/json', with no charset or charset=utf-8 " +
                    $"(got '{contentType}').");
                return false;
        }
        var origin = context.Head.GetField("Origin");
        if (origin == null || CorsPolicy.Evaluate(cors, origin).AllowOrigin != null)
        {
            return true;
        }
        context.Response.WriteError(403, "origin_not_allowed",
            $"A body without 'Content-Type: application/json' is read as JSON only from scripts (no Origin) or from an " +
            $"origin in [cors] allowed_origins, and '{origin}' is not one (this refuses cross-site form posts). Send " +
            "'Content-Type: application/json', or add the origin to [cors] allowed_origins.");
        return false;
    }

    /// <summary>
    /// The 400 sentence for a body that is not a JSON object: when the request did not say
    /// <c>Content-Type: application/json</c>, adds that the body was read as JSON and what to send.
    /// </summary>
    public static string DescribeInvalidBody(HttpRequestHead head, string error) =>
        Classify(head.GetField("Content-Type")) == JsonBodyMediaType.Untyped
        && error.StartsWith("Request body", StringComparison.Ordinal)
            ? error + " The request had no 'Content-Type: application/json', so its body was read as JSON; form fields " +
              "(name=value) are not accepted: send a JSON object with 'Content-Type: application/json'."
            : error;
}
