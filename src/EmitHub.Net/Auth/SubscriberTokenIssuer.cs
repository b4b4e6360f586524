using System.Text;
using EmitHub.Core.Configuration;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace EmitHub.Net.Auth;

/// <summary>
/// Mints HS256 subscriber tokens with <c>[auth] token_secret</c> for <c>POST /api/v1/channels/{id}/tokens</c>, for
/// operators without an issuer of their own. Claims: <c>channel</c> (the id), <c>sub</c> (optional), <c>iat</c>,
/// <c>nbf</c>, <c>exp</c> (RFC 7519 §4.1).
/// </summary>
public static class SubscriberTokenIssuer
{
    /// <summary>Lifetime of a minted token when the request names none: 3600 s (1 hour).</summary>
    public const int DefaultTtlSeconds = 3600;

    /// <summary>Longest lifetime that can be asked for: 30 days, in seconds.</summary>
    public const int MaxTtlSeconds = 30 * 24 * 3600;

    private static readonly JsonWebTokenHandler s_handler = new() { SetDefaultTimesOnTokenCreation = false };

    /// <summary>Signs a token for <paramref name="channelId"/>; null when no <c>token_secret</c> is configured.</summary>
    /// <param name="auth">The <c>[auth]</c> settings.</param>
    /// <param name="channelId">The channel the token opens.</param>
    /// <param name="subject">The <c>sub</c> claim, or null.</param>
    /// <param name="ttl">Lifetime from <paramref name="now"/>.</param>
    /// <param name="now">Issue time (whole seconds are written).</param>
    public static string? Mint(AuthOptions auth, Guid channelId, string? subject, TimeSpan ttl, DateTimeOffset now)
    {
        if (auth.TokenSecret is not { Length: > 0 } secret)
        {
            return null;
        }
        var claims = new Dictionary<string, object> { ["channel"] = channelId.ToString() };
        if (subject is not null)
        {
            claims["sub"] = subject;
        }
        var issued = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds()).UtcDateTime;
        return s_handler.CreateToken(new SecurityTokenDescriptor
        {
            Claims = claims,
            IssuedAt = issued,
            NotBefore = issued,
            Expires = issued + ttl,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)), SecurityAlgorithms.HmacSha256),
        });
    }
}
