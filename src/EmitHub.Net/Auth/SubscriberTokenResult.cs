namespace EmitHub.Net.Auth;

/// <summary>
/// The verdict on a subscriber of a channel: allowed (with the token's <c>sub</c> and expiry, when a token was
/// needed), or refused with the HTTP status the upgrade is answered with — 401 (no token, or one that is malformed,
/// badly signed, expired or not yet valid) or 403 (a valid token for other channels) — a snake_case code and a
/// sentence saying what was wrong and what is accepted.
/// </summary>
public sealed record SubscriberTokenResult
{
    /// <summary>Public channel: nothing to check.</summary>
    public static readonly SubscriberTokenResult Public = new() { IsAllowed = true };

    /// <summary>True when the client may subscribe.</summary>
    public bool IsAllowed { get; init; }

    /// <summary>401 or 403 when refused; 0 when allowed.</summary>
    public int StatusCode { get; init; }

    /// <summary>snake_case code of the refusal (<c>token_required</c>, <c>token_expired</c>, …), or null.</summary>
    public string? Code { get; init; }

    /// <summary>The refusal's sentence, or null.</summary>
    public string? Error { get; init; }

    /// <summary>The token's <c>sub</c> claim, or null.</summary>
    public string? Subject { get; init; }

    /// <summary>The token's <c>exp</c> (UTC), or null for a public channel. The connection is closed 4001 once it
    /// passes (plus <c>[auth] clock_skew</c>).</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>The <c>WWW-Authenticate</c> value of a refusal (RFC 6750 §3: the scheme and why, never the token):
    /// <c>invalid_token</c> for 401, <c>insufficient_scope</c> for 403.</summary>
    public string WwwAuthenticate => StatusCode == 401 ? "Bearer error=\"invalid_token\"" : "Bearer error=\"insufficient_scope\"";

    /// <summary>A refusal.</summary>
    public static SubscriberTokenResult Refuse(int status, string code, string error) =>
        new() { StatusCode = status, Code = code, Error = error };
}
