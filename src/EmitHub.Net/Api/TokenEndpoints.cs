using System.Text.Json;
using EmitHub.Core.Channels;
using EmitHub.Core.Configuration;
using EmitHub.Net.Auth;
using EmitHub.Net.Http;

namespace EmitHub.Net.Api;

/// <summary>
/// <c>POST /api/v1/channels/{id}/tokens</c> (API key): mints an HS256 subscriber token with <c>[auth]
/// token_secret</c>. Body (optional, JSON): <c>sub</c> (string, 1–200 characters; shown as
/// <c>client_message.data.sender</c>), <c>ttl_seconds</c> (1–2,592,000, default 3600). Answers 200
/// <c>{"token", "channel_id", "sub", "expires_at"}</c>; 400 bad body; 404 unknown channel; 409 no
/// <c>token_secret</c> configured.
/// </summary>
internal sealed class TokenEndpoints(ChannelRegistry registry, LiveOptions options, TimeProvider time)
{
    public void Mint(HttpRequestContext context, Guid id)
    {
        var response = context.Response;
        if (registry.Get(id) is null)
        {
            ChannelEndpoints.WriteUnknownChannel(response, id.ToString());
            return;
        }
        if (!TryParse(context.Body.Span, out var subject, out var ttl, out var error))
        {
            response.WriteError(400, "invalid_request", error!);
            return;
        }
        var now = time.GetUtcNow();
        var token = SubscriberTokenIssuer.Mint(options.Current.Auth, id, subject, TimeSpan.FromSeconds(ttl), now);
        if (token is null)
        {
            response.WriteError(409, "token_secret_not_configured",
                "This server has no [auth] token_secret (EMIT_HUB_TOKEN_SECRET), so it cannot sign subscriber tokens; set one, or sign tokens with your own issuer and configure [auth] token_public_key.");
            return;
        }
        var expires = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds() + ttl);
        response.WriteJson(200, new SubscriberTokenBody(token, id, subject, expires), NetJsonContext.Default.SubscriberTokenBody);
    }

    private static bool TryParse(ReadOnlySpan<byte> body, out string? subject, out int ttl, out string? error)
    {
        subject = null;
        ttl = SubscriberTokenIssuer.DefaultTtlSeconds;
        error = null;
        if (body.IsEmpty)
        {
            return true;
        }
        try
        {
            using var document = JsonDocument.Parse(body.ToArray(), new JsonDocumentOptions { MaxDepth = 64 });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = "Request body must be a JSON object such as {\"sub\": \"screen-1\", \"ttl_seconds\": 3600}.";
                return false;
            }
            if (root.TryGetProperty("sub", out var sub) && sub.ValueKind != JsonValueKind.Null)
            {
                if (sub.ValueKind != JsonValueKind.String || sub.GetString()!.Length is 0 or > SubscriberTokenValidator.MaxSubjectLength)
                {
                    error = $"Field 'sub' must be a string of 1 to {SubscriberTokenValidator.MaxSubjectLength} characters.";
                    return false;
                }
                subject = sub.GetString();
            }
            if (root.TryGetProperty("ttl_seconds", out var ttlElement) && ttlElement.ValueKind != JsonValueKind.Null)
            {
                if (ttlElement.ValueKind != JsonValueKind.Number || !ttlElement.TryGetInt32(out ttl) || ttl < 1 || ttl > SubscriberTokenIssuer.MaxTtlSeconds)
                {
                    error = $"Field 'ttl_seconds' must be a whole number from 1 to {SubscriberTokenIssuer.MaxTtlSeconds} (30 days).";
                    return false;
                }
            }
            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            error = "Request body is not valid JSON; send 'Content-Type: application/json' and an object such as {\"sub\": \"screen-1\", \"ttl_seconds\": 3600}.";
            return false;
        }
    }
}
