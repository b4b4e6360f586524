using EmitHub.Core.Channels;
using EmitHub.Core.Configuration;
using EmitHub.Net.Auth;
using EmitHub.Net.Http;
using EmitHub.Net.Routing;

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
        // The same JSON rules and 400 sentences as every other body (ChannelRequests, JsonBodyPolicy).
        if (!ChannelRequests.TryParseTokenRequest(context.Body.Span, out var request, out var error))
        {
            response.WriteError(400, "invalid_request", JsonBodyPolicy.DescribeInvalidBody(context.Head, error!));
            return;
        }
        var (subject, ttl) = (request!.Subject, request.TtlSeconds);
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
}
