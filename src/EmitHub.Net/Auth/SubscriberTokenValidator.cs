using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using EmitHub.Core.Channels;
using EmitHub.Core.Configuration;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace EmitHub.Net.Auth;

/// <summary>
/// Verifies subscriber tokens of private channels (issue 13): a compact JWS (RFC 7515) carrying a JWT (RFC 7519).
/// The algorithm is pinned by the configured keys, never chosen by the token: HS256 only with <c>[auth]
/// token_secret</c> (its UTF-8 bytes are the HMAC key), RS256 or ES256 only with the RSA or P-256 key of
/// <c>[auth] token_public_key</c>. <c>alg: none</c> and every other algorithm are refused before any signature
/// work, so an HS256 token can never be checked against a public key used as an HMAC secret (algorithm confusion).
/// Signature, <c>exp</c> (required) and <c>nbf</c> are checked by Microsoft.IdentityModel.JsonWebTokens (AOT-clean
/// since 8.x; its signature comparison is constant-time); the claims this hub reads (<c>channel</c>: a string or
/// an array of strings; <c>sub</c>: a string) are read here from the verified payload with System.Text.Json.
/// Keys are rebuilt when the configuration is reloaded.
/// </summary>
public sealed class SubscriberTokenValidator : ISubscriberTokenValidator
{
    /// <summary>Longest token accepted, in characters: 8 KiB, the request-line limit it must fit in anyway.</summary>
    public const int MaxTokenLength = 8192;

    /// <summary>Longest <c>sub</c> shown as <c>client_message.data.sender</c>, in characters.</summary>
    public const int MaxSubjectLength = 200;

    private static readonly JsonWebTokenHandler s_handler = new() { MaximumTokenSizeInBytes = MaxTokenLength };

    private readonly LiveOptions _options;
    private KeySet? _keys;

    /// <summary>Creates the validator over the live configuration.</summary>
    public SubscriberTokenValidator(LiveOptions options) => _options = options;

    /// <inheritdoc />
    public ValueTask<SubscriberTokenResult> AuthorizeAsync(ChannelSnapshot channel, string? token) =>
        channel.Settings.Private ? ValidateAsync(token, channel.Id) : ValueTask.FromResult(SubscriberTokenResult.Public);

    /// <summary>Checks <paramref name="token"/> for <paramref name="channelId"/> (see the class summary).</summary>
    public async ValueTask<SubscriberTokenResult> ValidateAsync(string? token, Guid channelId)
    {
        var auth = _options.Current.Auth;
        var keys = GetKeys(auth);
        if (keys.Hmac is null && keys.Public is null)
        {
            return Unauthorized("token_verification_unavailable",
                $"Channel {channelId} is private, but this server has no [auth] token_secret or token_public_key to verify subscriber tokens; its operator must set one.");
        }
        if (string.IsNullOrEmpty(token))
        {
            return Unauthorized("token_required",
                $"Channel {channelId} is private: present a subscriber token (a JWT naming the channel) in Sec-WebSocket-Protocol as 'emithub.token, <jwt>' or as ?token=<jwt>.");
        }
        if (token.Length > MaxTokenLength)
        {
            return Unauthorized("invalid_token", $"The subscriber token has {token.Length} characters; at most {MaxTokenLength} are accepted.");
        }
        if (!TryReadSegment(token, 0, out var header) || !TryReadAlgorithm(header, out var algorithm) ||
            !TryReadSegment(token, 1, out var payload) || !IsBase64UrlSegment(token.AsSpan(token.LastIndexOf('.') + 1), allowEmpty: true))
        {
            return Unauthorized("invalid_token",
                "The subscriber token is not a JWT: three base64url segments (header.payload.signature) whose header is a JSON object with a string 'alg'.");
        }
        if (algorithm == "none")
        {
            return Unauthorized("invalid_token", "Unsigned tokens (alg 'none') are refused; sign the token with " + keys.Accepted + ".");
        }
        SecurityKey? key = algorithm == SecurityAlgorithms.HmacSha256 ? keys.Hmac
            : algorithm == keys.PublicAlgorithm ? keys.Public
            : null;
        if (key is null)
        {
            return Unauthorized("invalid_token", $"Token algorithm '{Printable(algorithm)}' is not accepted by this server; accepted: {keys.Accepted}.");
        }

        var parameters = new TokenValidationParameters
        {
            IssuerSigningKey = key,
            ValidAlgorithms = [algorithm],
            // Our tokens carry no 'kid': the one key pinned above is the one to try.
            TryAllIssuerSigningKeys = true,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ValidateIssuer = false,
            ValidateAudience = false,
            ValidateIssuerSigningKey = false,
            ClockSkew = TimeSpan.FromSeconds(auth.ClockSkew),
        };
        TokenValidationResult result;
        try
        {
            result = await s_handler.ValidateTokenAsync(token, parameters).ConfigureAwait(false);
        }
        catch (ArgumentException)
        {
            result = new TokenValidationResult { IsValid = false, Exception = new SecurityTokenMalformedException() };
        }
        if (!result.IsValid)
        {
            return Describe(result.Exception, auth.ClockSkew, keys);
        }

        var jwt = (JsonWebToken)result.SecurityToken;
        if (!TryReadClaims(payload, out var channels, out var subject, out var claimError))
        {
            return Unauthorized("invalid_token", claimError ?? "The subscriber token's payload is not a JSON object.");
        }
        foreach (var named in channels)
        {
            if (Guid.TryParse(named, out var id) && id == channelId)
            {
                return new SubscriberTokenResult
                {
                    IsAllowed = true,
                    Subject = subject,
                    ExpiresAt = AsUtc(jwt.ValidTo),
                };
            }
        }
        var names = channels.Count == 0 ? "no channel" : string.Join(", ", channels.Take(3).Select(Printable)) + (channels.Count > 3 ? ", …" : "");
        return SubscriberTokenResult.Refuse(403, "token_wrong_channel",
            $"The subscriber token is valid but its 'channel' claim names {names}, not {channelId}; get a token for this channel.");
    }

    private static SubscriberTokenResult Describe(Exception? exception, int skew, KeySet keys) => exception switch
    {
        SecurityTokenExpiredException expired => Unauthorized("token_expired",
            $"The subscriber token expired at {Rfc3339.ToString(AsUtc(expired.Expires))} (clock skew allowed: {skew} s); get a fresh token."),
        SecurityTokenNotYetValidException early => Unauthorized("token_not_yet_valid",
            $"The subscriber token is not valid before {Rfc3339.ToString(AsUtc(early.NotBefore))} (nbf; clock skew allowed: {skew} s)."),
        SecurityTokenNoExpirationException => Unauthorized("invalid_token",
            "The subscriber token has no 'exp' claim; tokens must expire."),
        SecurityTokenInvalidLifetimeException => Unauthorized("invalid_token",
            "The subscriber token's 'nbf' is after its 'exp'."),
        SecurityTokenInvalidSignatureException or SecurityTokenSignatureKeyNotFoundException => Unauthorized("invalid_token",
            $"The subscriber token's signature does not verify with this server's key ({keys.Accepted})."),
        SecurityTokenInvalidAlgorithmException => Unauthorized("invalid_token",
            $"The subscriber token's algorithm is not accepted; accepted: {keys.Accepted}."),
        _ => Unauthorized("invalid_token",
            "The subscriber token is not a valid JWT (RFC 7519): check its encoding, its JSON and its numeric 'exp'/'nbf' claims."),
    };

    private static DateTimeOffset AsUtc(DateTime time) => new(DateTime.SpecifyKind(time, DateTimeKind.Utc));

    private static SubscriberTokenResult Unauthorized(string code, string error) => SubscriberTokenResult.Refuse(401, code, error);

    /// <summary>Decodes segment <paramref name="index"/> of a compact JWS; strict base64url (RFC 7515 §2: no padding,
    /// no whitespace, only the URL-safe alphabet).</summary>
    private static bool TryReadSegment(string token, int index, out byte[] bytes)
    {
        bytes = [];
        var parts = token.Split('.');
        if (parts.Length != 3 || parts[index].Length == 0)
        {
            return false;
        }
        var segment = parts[index];
        if (!IsBase64UrlSegment(segment, allowEmpty: false))
        {
            return false;
        }
        var buffer = new byte[Base64Url.GetMaxDecodedLength(segment.Length)];
        if (Base64Url.DecodeFromChars(segment, buffer, out _, out var written) != System.Buffers.OperationStatus.Done)
        {
            return false;
        }
        bytes = buffer.AsSpan(0, written).ToArray();
        return true;
    }

    private static bool IsBase64UrlSegment(ReadOnlySpan<char> segment, bool allowEmpty)
    {
        // A length of 1 mod 4 encodes no whole byte.
        if ((segment.IsEmpty && !allowEmpty) || segment.Length % 4 == 1)
        {
            return false;
        }
        foreach (var c in segment)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '-' || c == '_'))
            {
                return false;
            }
        }
        return true;
    }

    private static bool TryReadAlgorithm(byte[] header, out string algorithm)
    {
        algorithm = "";
        try
        {
            using var document = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 8 });
            if (document.RootElement.ValueKind != JsonValueKind.Object ||
                !document.RootElement.TryGetProperty("alg", out var alg) || alg.ValueKind != JsonValueKind.String)
            {
                return false;
            }
            algorithm = alg.GetString()!;
            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    private static bool TryReadClaims(byte[] payload, out List<string> channels, out string? subject, out string? error)
    {
        channels = [];
        subject = null;
        error = null;
        try
        {
            using var document = JsonDocument.Parse(payload, new JsonDocumentOptions { MaxDepth = 16 });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return false;
            }
            if (root.TryGetProperty("channel", out var channel))
            {
                if (channel.ValueKind == JsonValueKind.String)
                {
                    channels.Add(channel.GetString()!);
                }
                else if (channel.ValueKind == JsonValueKind.Array)
                {
                    foreach (var item in channel.EnumerateArray())
                    {
                        if (item.ValueKind != JsonValueKind.String)
                        {
                            error = "The subscriber token's 'channel' claim must be a channel id or an array of channel ids (strings).";
                            return false;
                        }
                        channels.Add(item.GetString()!);
                    }
                }
                else
                {
                    error = "The subscriber token's 'channel' claim must be a channel id or an array of channel ids (strings).";
                    return false;
                }
            }
            if (root.TryGetProperty("sub", out var sub) && sub.ValueKind != JsonValueKind.Null)
            {
                if (sub.ValueKind != JsonValueKind.String || sub.GetString()!.Length > MaxSubjectLength)
                {
                    error = $"The subscriber token's 'sub' claim must be a string of at most {MaxSubjectLength} characters.";
                    return false;
                }
                subject = sub.GetString();
            }
            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    private static string Printable(string text)
    {
        var clipped = text.Length > 60 ? text[..60] + "…" : text;
        var sb = new StringBuilder(clipped.Length);
        foreach (var c in clipped)
        {
            sb.Append(char.IsControl(c) ? '?' : c);
        }
        return sb.ToString();
    }

    private KeySet GetKeys(AuthOptions auth)
    {
        var keys = Volatile.Read(ref _keys);
        if (keys is not null && keys.Matches(auth))
        {
            return keys;
        }
        keys = KeySet.Load(auth);
        Volatile.Write(ref _keys, keys);
        return keys;
    }

    /// <summary>The verification keys built from one <c>[auth]</c> configuration.</summary>
    private sealed class KeySet
    {
        private string? _secret;
        private string? _publicKeyPath;

        public SymmetricSecurityKey? Hmac { get; private init; }
        public SecurityKey? Public { get; private init; }
        public string? PublicAlgorithm { get; private init; }
        public string Accepted { get; private init; } = "";

        public bool Matches(AuthOptions auth) => _secret == auth.TokenSecret && _publicKeyPath == auth.TokenPublicKey;

        public static KeySet Load(AuthOptions auth)
        {
            SecurityKey? publicKey = null;
            string? algorithm = null;
            if (auth.TokenPublicKey is { Length: > 0 } path)
            {
                try
                {
                    SubscriberTokenKeyFile.TryLoad(File.ReadAllText(path), out publicKey, out algorithm);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Checked at startup and reload; a file removed since then verifies nothing.
                }
            }
            var accepted = new List<string>();
            if (auth.TokenSecret is { Length: > 0 })
            {
                accepted.Add("HS256 with [auth] token_secret");
            }
            if (algorithm is not null)
            {
                accepted.Add($"{algorithm} with [auth] token_public_key");
            }
            return new KeySet
            {
                _secret = auth.TokenSecret,
                _publicKeyPath = auth.TokenPublicKey,
                Hmac = auth.TokenSecret is { Length: > 0 } secret ? new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)) : null,
                Public = publicKey,
                PublicAlgorithm = algorithm,
                Accepted = accepted.Count == 0 ? "nothing (no key configured)" : string.Join(" or ", accepted),
            };
        }
    }
}
