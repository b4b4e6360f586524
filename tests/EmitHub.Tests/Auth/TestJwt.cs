using System.Security.Cryptography;
using System.Text;

namespace EmitHub.Tests.Auth;

/// <summary>
/// Builds compact JWS tokens by hand (RFC 7515 §7.1), independently of the product's issuer, so the tests also
/// produce what a careful issuer never would: <c>alg: none</c>, a forged signature, an HS256 token keyed with a
/// public key's PEM text.
/// </summary>
internal static class TestJwt
{
    public const string Secret = "test-secret-of-at-least-32-characters!!";

    public static long Now => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>A payload: <c>channel</c> (a JSON value written as given), <c>exp</c>, optional <c>nbf</c> and <c>sub</c>.</summary>
    public static string Payload(string channelJson, long exp, long? nbf = null, string? sub = null)
    {
        var sb = new StringBuilder("{\"channel\":").Append(channelJson).Append(",\"exp\":").Append(exp);
        if (nbf is not null)
        {
            sb.Append(",\"nbf\":").Append(nbf);
        }
        if (sub is not null)
        {
            sb.Append(",\"sub\":\"").Append(sub).Append('"');
        }
        return sb.Append('}').ToString();
    }

    public static string ForChannel(string channelId, long? exp = null, long? nbf = null, string? sub = null, string secret = Secret) =>
        Hs256(Payload($"\"{channelId}\"", exp ?? Now + 600, nbf, sub), secret);

    public static string Hs256(string payload, string secret = Secret) =>
        Sign("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, input => HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), input));

    public static string Rs256(string payload, RSA key) =>
        Sign("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", payload, input => key.SignData(input, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

    public static string Es256(string payload, ECDsa key) =>
        // JWS ES256 signatures are R || S, 64 bytes (RFC 7518 §3.4), which is .NET's IEEE P1363 format.
        Sign("{\"alg\":\"ES256\",\"typ\":\"JWT\"}", payload, input => key.SignData(input, HashAlgorithmName.SHA256));

    /// <summary>An unsecured JWT (RFC 7519 §6): <c>alg: none</c> and an empty signature.</summary>
    public static string None(string payload) =>
        B64("{\"alg\":\"none\",\"typ\":\"JWT\"}") + "." + B64(payload) + ".";

    private static string Sign(string header, string payload, Func<byte[], byte[]> sign)
    {
        var input = B64(header) + "." + B64(payload);
        return input + "." + Base64Url(sign(Encoding.ASCII.GetBytes(input)));
    }

    public static string B64(string json) => Base64Url(Encoding.UTF8.GetBytes(json));

    public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
