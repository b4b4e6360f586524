using System.Security.Cryptography;
using System.Text;

namespace EmitHub.Net.Routing;

/// <summary>Bearer API key check (RFC 6750 §2.1; SPEC §2 "Authentication").</summary>
public static class ApiKeyAuthorization
{
    /// <summary>
    /// True when <paramref name="authorization"/> is <c>Bearer &lt;key&gt;</c> with the configured key. Both sides
    /// are hashed first and the hashes compared with <see cref="CryptographicOperations.FixedTimeEquals"/>, so
    /// neither the key's content nor its length leaks through timing.
    /// </summary>
    public static bool IsAuthorized(string? authorization, string apiKey)
    {
        if (authorization == null || authorization.Length < 7 ||
            !authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        var presented = authorization.AsSpan(7).Trim(' ');
        Span<byte> expectedHash = stackalloc byte[32];
        Span<byte> presentedHash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(apiKey), expectedHash);
        SHA256.HashData(Encoding.UTF8.GetBytes(presented.ToString()), presentedHash);
        return CryptographicOperations.FixedTimeEquals(expectedHash, presentedHash);
    }
}
