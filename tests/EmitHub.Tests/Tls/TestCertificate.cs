using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EmitHub.Tests.Tls;

/// <summary>A self-signed ECDSA P-256 server certificate for <c>localhost</c> and <c>127.0.0.1</c>, written as PEM
/// files (the certificate doubles as the trust anchor a client is given).</summary>
public sealed class TestCertificate : IDisposable
{
    private TestCertificate(string directory)
    {
        Directory = directory;
    }

    public string Directory { get; }
    public string CertPath => Path.Combine(Directory, "cert.pem");
    public string KeyPath => Path.Combine(Directory, "key.pem");

    /// <summary>Creates a directory holding <c>cert.pem</c> and <c>key.pem</c> for subject <c>CN=<paramref name="commonName"/></c>.</summary>
    public static TestCertificate Create(string commonName = "emit-hub test")
    {
        var certificate = new TestCertificate(System.IO.Directory.CreateTempSubdirectory("emithub-tls-").FullName);
        certificate.Write(commonName);
        return certificate;
    }

    /// <summary>Replaces both files with a new certificate and key (a renewal).</summary>
    public void Write(string commonName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(2));
        // Key first, then certificate, each through a rename, as certbot's symlink switch makes both appear at once.
        WriteAtomically(KeyPath, key.ExportPkcs8PrivateKeyPem());
        WriteAtomically(CertPath, certificate.ExportCertificatePem());
    }

    private static void WriteAtomically(string path, string text)
    {
        var temp = path + ".tmp";
        File.WriteAllText(temp, text + "\n");
        File.Move(temp, path, overwrite: true);
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
