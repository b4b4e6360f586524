using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using EmitHub.Tests.Config;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Tls;

/// <summary>
/// <c>[tls]</c> end to end: the real server with a certificate the test generates, reached by curl (<c>--cacert</c>),
/// by the seed's Python client over <c>wss://</c> (trusting the certificate through <c>SSL_CERT_FILE</c>, its code
/// unchanged), and by an <see cref="SslStream"/> that watches the certificate change when the files are replaced.
/// </summary>
public sealed class TlsEndToEndTests : IDisposable
{
    private readonly TestCertificate _certificate = TestCertificate.Create();

    public void Dispose() => _certificate.Dispose();

    private Task<TestHubServer> StartTlsHubAsync() => TestHubServer.StartAsync(o =>
    {
        o.Tls.CertPath = _certificate.CertPath;
        o.Tls.KeyPath = _certificate.KeyPath;
    });

    [Fact]
    public async Task Curl_with_cacert_gets_health_and_broadcasts_over_https()
    {
        await using var hub = await StartTlsHubAsync();
        var baseUrl = $"https://localhost:{hub.EndPoint.Port}";

        var health = await CurlAsync($"{baseUrl}/health");
        Assert.Equal("healthy", JsonDocument.Parse(health).RootElement.GetProperty("status").GetString());

        var created = await CurlAsync("-X", "POST", $"{baseUrl}/api/v1/channels", "-H", "Content-Type: application/json",
            "-d", """{"name":"Sistema de Turnos"}""");
        var id = JsonDocument.Parse(created).RootElement.GetProperty("id").GetString()!;
        await CurlAsync("-X", "PUT", $"{baseUrl}/api/v1/channels/{id}/start");
        var ack = await CurlAsync("-X", "POST", $"{baseUrl}/api/v1/channels/{id}/broadcast", "-H", "Content-Type: application/json",
            "-d", """{"content":"A004","message_type":"Broadcast"}""");
        Assert.Equal(1, JsonDocument.Parse(ack).RootElement.GetProperty("sequence").GetInt64());
    }

    [Fact]
    public async Task The_seed_python_client_receives_a_broadcast_over_wss()
    {
        await using var hub = await StartTlsHubAsync();
        var baseUrl = $"https://localhost:{hub.EndPoint.Port}";
        var created = await CurlAsync("-X", "POST", $"{baseUrl}/api/v1/channels", "-H", "Content-Type: application/json",
            "-d", """{"name":"Sistema de Turnos"}""");
        var id = JsonDocument.Parse(created).RootElement.GetProperty("id").GetString()!;
        await CurlAsync("-X", "PUT", $"{baseUrl}/api/v1/channels/{id}/start");

        // The seed's client turns "https" into "wss" and uses Python's default SSL context, which trusts SSL_CERT_FILE.
        using var python = ClientProcess.Start(new Dictionary<string, string> { ["SSL_CERT_FILE"] = _certificate.CertPath },
            "/usr/bin/python3", "seed_python_client.py", baseUrl, id);
        await python.WaitForAsync($"✅ Conectado al canal: {id}");
        Assert.Contains($"wss://localhost:{hub.EndPoint.Port}/api/v1/channels/{id}/ws", python.Output);

        await CurlAsync("-X", "POST", $"{baseUrl}/api/v1/channels/{id}/broadcast", "-H", "Content-Type: application/json",
            "-d", """{"content":"A004"}""");

        await python.WaitForAsync("🎯 Turno llamado: A004");
    }

    [Fact]
    public async Task Replacing_the_certificate_files_changes_the_certificate_of_the_next_handshake()
    {
        _certificate.Write("first");
        await using var hub = await StartTlsHubAsync();
        Assert.Equal("CN=first", await HandshakeSubjectAsync(hub));

        _certificate.Write("second");

        // Liveness bound: the files are looked at once a second, on a handshake.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        string subject;
        while ((subject = await HandshakeSubjectAsync(hub)) != "CN=second" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }
        Assert.Equal("CN=second", subject);
        Assert.Equal("healthy", JsonDocument.Parse(await CurlAsync($"https://localhost:{hub.EndPoint.Port}/health")).RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_half_written_renewal_keeps_the_previous_certificate()
    {
        _certificate.Write("first");
        await using var hub = await StartTlsHubAsync();
        Assert.Equal("CN=first", await HandshakeSubjectAsync(hub));

        File.WriteAllText(_certificate.KeyPath, "-----BEGIN PRIVATE KEY-----\nnot a key\n");
        await Task.Delay(TimeSpan.FromSeconds(1.2));

        Assert.Equal("CN=first", await HandshakeSubjectAsync(hub));
        Assert.Equal("CN=first", await HandshakeSubjectAsync(hub));
    }

    [Fact]
    public async Task Plain_http_on_the_tls_port_is_dropped_and_the_server_keeps_serving()
    {
        await using var hub = await StartTlsHubAsync();
        using (var raw = await hub.ConnectRawAsync())
        {
            await raw.SendAsync("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
            try
            {
                while (await raw.ReadOneChunkAsync())
                {
                }
            }
            catch (SocketException)
            {
            }
            // The handshake fails on the first bytes; whatever came back (a TLS alert at most) is no HTTP answer.
            Assert.DoesNotContain("HTTP/1.1", raw.Pending);
        }
        Assert.Contains("healthy", await CurlAsync($"https://localhost:{hub.EndPoint.Port}/health"));
    }

    [Fact]
    public async Task Alpn_selects_http_1_1()
    {
        await using var hub = await StartTlsHubAsync();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(hub.EndPoint);
        await using var ssl = new SslStream(tcp.GetStream(), false, (_, _, _, _) => true);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
        });
        Assert.Equal(SslApplicationProtocol.Http11, ssl.NegotiatedApplicationProtocol);
    }

    private static async Task<string> HandshakeSubjectAsync(TestHubServer hub)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(hub.EndPoint);
        X509Certificate? seen = null;
        await using var ssl = new SslStream(tcp.GetStream(), false, (_, certificate, _, _) =>
        {
            seen = certificate;
            return true;
        });
        await ssl.AuthenticateAsClientAsync("localhost");
        return seen!.Subject;
    }

    private async Task<string> CurlAsync(params string[] args)
    {
        // curl's --max-time bounds each request; the 60 s is only a liveness bound.
        var (exit, stdout, stderr) = await ProcessRun.RunAsync("curl",
            ["--silent", "--show-error", "--fail-with-body", "--max-time", "30", "--cacert", _certificate.CertPath, .. args], TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, $"curl {string.Join(' ', args)} exited {exit}: {stderr} {stdout}");
        return stdout;
    }
}

/// <summary><c>[tls]</c> at startup: paths that do not give a certificate stop the server with exit code 2 and a sentence.</summary>
[Collection(EmitHub.Tests.Persistence.PersistenceProcessCollection.Name)]
public sealed class TlsStartupTests : IDisposable
{
    private readonly string _dir = ConfigTestHelpers.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_missing_certificate_file_is_exit_2_with_a_sentence()
    {
        var (code, _, stderr) = await EmitHubProcess.RunAsync(_dir, new Dictionary<string, string>
        {
            ["EMIT_HUB_TLS_CERT_PATH"] = "/nonexistent/cert.pem",
            ["EMIT_HUB_TLS_KEY_PATH"] = "/nonexistent/key.pem",
            ["EMIT_HUB_DB_PATH"] = "data",
        });

        Assert.Equal(2, code);
        Assert.Contains("[tls] cert_path \"/nonexistent/cert.pem\" does not exist or is not a readable file: it must name a PEM file.", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public async Task A_key_that_is_not_pem_is_exit_2_naming_both_files()
    {
        using var certificate = TestCertificate.Create();
        File.WriteAllText(certificate.KeyPath, "not a key");
        var (code, _, stderr) = await EmitHubProcess.RunAsync(_dir, new Dictionary<string, string>
        {
            ["EMIT_HUB_TLS_CERT_PATH"] = certificate.CertPath,
            ["EMIT_HUB_TLS_KEY_PATH"] = certificate.KeyPath,
            ["EMIT_HUB_DB_PATH"] = "data",
        });

        Assert.Equal(2, code);
        Assert.Contains($"[tls] cert_path \"{certificate.CertPath}\" and key_path \"{certificate.KeyPath}\" must be a PEM certificate", stderr);
    }

    [Fact]
    public async Task A_certificate_without_a_key_path_is_exit_2()
    {
        using var certificate = TestCertificate.Create();
        var (code, _, stderr) = await EmitHubProcess.RunAsync(_dir, new Dictionary<string, string>
        {
            ["EMIT_HUB_TLS_CERT_PATH"] = certificate.CertPath,
            ["EMIT_HUB_DB_PATH"] = "data",
        });

        Assert.Equal(2, code);
        Assert.Contains("[tls] cert_path and key_path must be set together", stderr);
    }

    [Fact]
    public async Task A_valid_certificate_starts_an_https_server()
    {
        using var certificate = TestCertificate.Create("startup");
        var port = EmitHubProcess.FreePort();
        using var server = EmitHubProcess.Start(_dir, new Dictionary<string, string>
        {
            ["EMIT_HUB_TLS_CERT_PATH"] = certificate.CertPath,
            ["EMIT_HUB_TLS_KEY_PATH"] = certificate.KeyPath,
            ["EMIT_HUB_DB_PATH"] = "data",
            ["EMIT_HUB_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        await server.WaitForLineAsync("TLS certificate loaded from");
        await server.WaitForLineAsync("Application state initialized successfully");
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, c, _, _) => c!.Subject == "CN=startup" };
        using var client = new HttpClient(handler);
        Assert.Contains("healthy", await client.GetStringAsync($"https://127.0.0.1:{port}/api/v1/health"));
        server.Signal(15);
        Assert.Equal(0, await server.WaitForExitAsync());
    }
}
