using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace EmitHub.Net.Transport;

/// <summary>
/// The server certificate of <c>[tls]</c>: a PEM certificate file (the leaf first, then any intermediates) and a PEM
/// private key file. Each handshake asks <see cref="GetServerOptions"/>, which looks at the two files' modification
/// times and sizes at most once per <see cref="ChangeCheckInterval"/> and loads them again when they changed, so a
/// renewed certificate (certbot, a Kubernetes secret) is used from the next handshake on without a restart. A change
/// that does not load (the key written before the certificate, say) keeps the previous certificate and logs a
/// warning; the next change is tried again.
/// </summary>
public sealed class TlsCertificateSource
{
    /// <summary>How often the files are looked at: at most once a second, on a handshake (a <c>stat</c> of two files).</summary>
    public static readonly TimeSpan ChangeCheckInterval = TimeSpan.FromSeconds(1);

    private static readonly List<SslApplicationProtocol> s_alpn = [SslApplicationProtocol.Http11];

    private readonly string _certPath;
    private readonly string _keyPath;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private SslStreamCertificateContext _context;
    private (DateTime, long, DateTime, long) _stamp;
    private long _lastCheck;

    private TlsCertificateSource(string certPath, string keyPath, ILogger logger, SslStreamCertificateContext context,
        (DateTime, long, DateTime, long) stamp)
    {
        _certPath = certPath;
        _keyPath = keyPath;
        _logger = logger;
        _context = context;
        _stamp = stamp;
        _lastCheck = Environment.TickCount64;
    }

    /// <summary>The certificate new handshakes present.</summary>
    public X509Certificate2 Certificate => Volatile.Read(ref _context).TargetCertificate;

    /// <summary>Loads the certificate and key.</summary>
    /// <param name="certPath">PEM file of the certificate (and its chain).</param>
    /// <param name="keyPath">PEM file of the private key (PKCS#8, PKCS#1 or SEC1; not encrypted).</param>
    /// <param name="logger">Logs loads and failed reloads.</param>
    /// <param name="error">When loading fails: a sentence naming the file and what is wrong.</param>
    /// <returns>The source, or null with <paramref name="error"/>.</returns>
    public static TlsCertificateSource? TryCreate(string certPath, string keyPath, ILogger logger, out string? error)
    {
        var stamp = Stamp(certPath, keyPath);
        if (!TryLoad(certPath, keyPath, out var context, out error))
        {
            return null;
        }
        TransportLog.TlsCertificateLoaded(logger, certPath, context!.TargetCertificate.Subject, context.TargetCertificate.NotAfter.ToUniversalTime());
        return new TlsCertificateSource(certPath, keyPath, logger, context, stamp);
    }

    /// <summary>Checks that <paramref name="certPath"/> and <paramref name="keyPath"/> hold a usable certificate and
    /// key, without keeping them (startup validation).</summary>
    /// <returns>Null when they do, else a sentence naming the file and what is wrong.</returns>
    public static string? Validate(string certPath, string keyPath)
    {
        if (!TryLoad(certPath, keyPath, out var context, out var error))
        {
            return error;
        }
        context!.TargetCertificate.Dispose();
        return null;
    }

    /// <summary>Options for one server handshake: the current certificate (reloaded first if its files changed),
    /// ALPN <c>http/1.1</c>, no client certificate, the system's TLS versions and ciphers.</summary>
    public SslServerAuthenticationOptions GetServerOptions()
    {
        ReloadIfChanged();
        return new SslServerAuthenticationOptions
        {
            ServerCertificateContext = Volatile.Read(ref _context),
            ApplicationProtocols = s_alpn,
            ClientCertificateRequired = false,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        };
    }

    private void ReloadIfChanged()
    {
        var now = Environment.TickCount64;
        if (now - Volatile.Read(ref _lastCheck) < (long)ChangeCheckInterval.TotalMilliseconds)
        {
            return;
        }
        lock (_gate)
        {
            if (now - _lastCheck < (long)ChangeCheckInterval.TotalMilliseconds)
            {
                return;
            }
            Volatile.Write(ref _lastCheck, now);
            var stamp = Stamp(_certPath, _keyPath);
            if (stamp == _stamp)
            {
                return;
            }
            _stamp = stamp;
            if (TryLoad(_certPath, _keyPath, out var context, out var error))
            {
                Volatile.Write(ref _context, context!);
                TransportLog.TlsCertificateLoaded(_logger, _certPath, context!.TargetCertificate.Subject,
                    context.TargetCertificate.NotAfter.ToUniversalTime());
            }
            else
            {
                TransportLog.TlsCertificateReloadFailed(_logger, error!);
            }
        }
    }

    private static (DateTime, long, DateTime, long) Stamp(string certPath, string keyPath)
    {
        var cert = new FileInfo(certPath);
        var key = new FileInfo(keyPath);
        return (cert.Exists ? cert.LastWriteTimeUtc : default, cert.Exists ? cert.Length : -1,
            key.Exists ? key.LastWriteTimeUtc : default, key.Exists ? key.Length : -1);
    }

    private static bool TryLoad(string certPath, string keyPath, out SslStreamCertificateContext? context, out string? error)
    {
        context = null;
        foreach (var (path, what) in new[] { (certPath, "cert_path"), (keyPath, "key_path") })
        {
            if (!File.Exists(path))
            {
                error = $"[tls] {what} \"{path}\" does not exist or is not a readable file: it must name a PEM file.";
                return false;
            }
        }
        try
        {
            var leaf = X509Certificate2.CreateFromPemFile(certPath, keyPath);
            if (!leaf.HasPrivateKey)
            {
                error = $"[tls] key_path \"{keyPath}\" holds no private key for the certificate in \"{certPath}\".";
                return false;
            }
            var chain = new X509Certificate2Collection();
            chain.ImportFromPemFile(certPath);
            var intermediates = new X509Certificate2Collection();
            for (var i = 1; i < chain.Count; i++)
            {
                intermediates.Add(chain[i]);
            }
            context = SslStreamCertificateContext.Create(leaf, intermediates, offline: true);
            error = null;
            return true;
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            error = $"[tls] cert_path \"{certPath}\" and key_path \"{keyPath}\" must be a PEM certificate (\"-----BEGIN CERTIFICATE-----\") and its unencrypted PEM private key: {e.Message}";
            return false;
        }
    }
}
