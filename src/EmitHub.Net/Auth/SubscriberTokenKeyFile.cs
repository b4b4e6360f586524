using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace EmitHub.Net.Auth;

/// <summary>
/// Reads <c>[auth] token_public_key</c>: one PEM public key (SubjectPublicKeyInfo, <c>-----BEGIN PUBLIC KEY-----</c>,
/// or PKCS#1 <c>-----BEGIN RSA PUBLIC KEY-----</c>). The key type pins the algorithm (RFC 7518 §3.1): RSA → RS256
/// (at least 2048 bits), EC P-256 → ES256. Nothing else is accepted, so a token can never choose how it is checked.
/// </summary>
public static class SubscriberTokenKeyFile
{
    /// <summary>Smallest RSA modulus accepted, in bits (RFC 7518 §3.3 requires 2048).</summary>
    public const int MinRsaKeyBits = 2048;

    /// <summary>Parses <paramref name="pem"/>; false when it holds no usable RSA or P-256 public key.</summary>
    /// <param name="pem">PEM text.</param>
    /// <param name="key">The verification key.</param>
    /// <param name="algorithm"><c>RS256</c> or <c>ES256</c>.</param>
    public static bool TryLoad(string pem, out SecurityKey? key, out string? algorithm)
    {
        key = null;
        algorithm = null;
        try
        {
            if (pem.Contains("BEGIN EC", StringComparison.Ordinal) || pem.Contains("PRIVATE KEY", StringComparison.Ordinal))
            {
                // A private key has no place on the verifying side.
                return false;
            }
            var rsa = RSA.Create();
            try
            {
                rsa.ImportFromPem(pem);
                if (rsa.KeySize < MinRsaKeyBits)
                {
                    rsa.Dispose();
                    return false;
                }
                key = new RsaSecurityKey(rsa);
                algorithm = SecurityAlgorithms.RsaSha256;
                return true;
            }
            catch (CryptographicException)
            {
                rsa.Dispose();
            }
            catch (ArgumentException)
            {
                rsa.Dispose();
            }
            var ec = ECDsa.Create();
            try
            {
                ec.ImportFromPem(pem);
                var curve = ec.ExportParameters(false).Curve;
                if (!curve.IsNamed || curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
                {
                    ec.Dispose();
                    return false;
                }
                key = new ECDsaSecurityKey(ec);
                algorithm = SecurityAlgorithms.EcdsaSha256;
                return true;
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
                ec.Dispose();
                return false;
            }
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            return false;
        }
    }
}
