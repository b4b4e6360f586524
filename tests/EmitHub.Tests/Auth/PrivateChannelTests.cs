using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Auth;

/// <summary>
/// Private channels end to end on the real server: the upgrade of a private channel needs a subscriber token (a JWT
/// naming the channel) in <c>Sec-WebSocket-Protocol: emithub.token, &lt;jwt&gt;</c> or <c>?token=</c>; every bad
/// token is refused before the upgrade with 401/403 and a sentence; an expiring token closes the connection 4001.
/// </summary>
public class PrivateChannelTests
{
    private const string PrivateChannel = """{"name":"Consultorio privado","settings":{"private":true,"rate_limit_per_minute":0,"allow_client_messages":true}}""";

    private static Task<TestHubServer> StartAsync(Action<EmitHub.Core.Configuration.EmitHubOptions>? configure = null) =>
        TestHubServer.StartAsync(o =>
        {
            o.Auth.TokenSecret = TestJwt.Secret;
            configure?.Invoke(o);
        });

    /// <summary>Sends an upgrade request and reads the answer's head and body (a refusal is a plain HTTP answer).</summary>
    private static async Task<RawResponse> UpgradeAsync(TestHubServer hub, string id, string query = "", string? protocols = null)
    {
        using var connection = await RawHttpConnection.ConnectAsync(hub.EndPoint);
        var request = $"GET /api/v1/channels/{id}/ws{query} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
                      (protocols is null ? "" : $"Sec-WebSocket-Protocol: {protocols}\r\n") + "\r\n";
        await connection.SendAsync(request);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return (await connection.ReadResponseAsync(cts.Token))!;
    }

    private static async Task<ClientWebSocket> ConnectWithProtocolAsync(TestHubServer hub, string id, string token)
    {
        var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol("emithub.token");
        ws.Options.AddSubProtocol(token);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{hub.EndPoint.Port}/api/v1/channels/{id}/ws"), cts.Token);
        return ws;
    }

    private static void AssertRefused(RawResponse response, int status, string code, string sentencePart)
    {
        Assert.Equal(status, response.StatusCode);
        using var body = JsonDocument.Parse(response.Body);
        Assert.Equal(code, body.RootElement.GetProperty("code").GetString());
        Assert.Contains(sentencePart, body.RootElement.GetProperty("error").GetString());
        Assert.Null(response.Header("Sec-WebSocket-Accept"));
    }

    [Fact]
    public async Task Private_is_a_channel_setting_false_by_default_set_on_create_and_by_patch()
    {
        await using var hub = await StartAsync();
        var publicId = await hub.CreateActiveChannelAsync();
        var channel = JsonDocument.Parse(await hub.Client.GetStringAsync($"/api/v1/channels/{publicId}")).RootElement;
        Assert.False(channel.GetProperty("settings").GetProperty("private").GetBoolean());

        var patched = await hub.Client.PatchAsync($"/api/v1/channels/{publicId}",
            new StringContent("""{"settings":{"private":true}}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.True(JsonDocument.Parse(await patched.Content.ReadAsStringAsync()).RootElement.GetProperty("settings").GetProperty("private").GetBoolean());
        AssertRefused(await UpgradeAsync(hub, publicId), 401, "token_required", "is private");

        var bad = await hub.Client.PatchAsync($"/api/v1/channels/{publicId}",
            new StringContent("""{"settings":{"private":"yes"}}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("settings.private", await bad.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_valid_token_in_the_subprotocol_connects_and_the_server_selects_emithub_token()
    {
        await using var hub = await StartAsync();
        var id = await hub.CreateActiveChannelAsync(PrivateChannel);

        var raw = await UpgradeAsync(hub, id, protocols: "emithub.token, " + TestJwt.ForChannel(id));
        Assert.Equal(101, raw.StatusCode);
        // RFC 6455 §4.2.2: the server names one offered value — the marker, never the token itself.
        Assert.Equal("emithub.token", raw.Header("Sec-WebSocket-Protocol"));

        using var ws = await ConnectWithProtocolAsync(hub, id, TestJwt.ForChannel(id));
        Assert.Equal("emithub.token", ws.SubProtocol);
        Assert.Equal("connected", (await ws.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());
        await hub.BroadcastAsync(id, "A004");
        Assert.Equal("A004", (await ws.ReceiveEnvelopeAsync())!.Value.GetProperty("message").GetString());
    }

    [Fact]
    public async Task A_valid_token_in_the_query_connects()
    {
        await using var hub = await StartAsync();
        var id = await hub.CreateActiveChannelAsync(PrivateChannel);
        using var ws = await hub.ConnectAsync(id, "?token=" + TestJwt.ForChannel(id));
        Assert.Equal("connected", (await ws.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_token_naming_the_channel_in_a_list_connects()
    {
        await using var hub = await StartAsync();
        var id = await hub.CreateActiveChannelAsync(PrivateChannel);
        var token = TestJwt.Hs256(TestJwt.Payload($"[\"{Guid.NewGuid()}\",\"{id.ToUpperInvariant()}\"]", TestJwt.Now + 60));
        using var ws = await hub.ConnectAsync(id, "?token=" + token);
        Assert.Equal("connected", (await ws.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());
    }

    [Fact]
    public async Task No_token_is_401_token_required_before_the_upgrade()
    {
        await using var hub = await StartAsync();
        var id = await hub.CreateActiveChannelAsync(PrivateChannel);
        var response = await UpgradeAsync(hub, id);
        AssertRefused(response, 401, "token_required", "emithub.token, <jwt>");
        Assert.StartsWith("Bearer", response.Header("WWW-Authenticate"));
    }

    [Fact]
    public async Task An_expired_token_is_401_token_expired()
    {
        await using var hub = await StartAsync(o => o.Auth.ClockSkew = 5);
        var id = await hub.CreateActiveChannelAsync(PrivateChannel);
        AssertRefused(await UpgradeAsync(hub, id, "?token=" + TestJwt.ForChannel(id, exp: TestJwt.Now - 60)), 401, "token_expired", "expired at");
    }

    [Fact]
    public async Task A_token_within_the_clock_skew_of_its_expiry_is_accepted()
    {
        await using var hub = await StartAsync(o => o.Auth.ClockSkew = 120);
        var id = await hub.CreateActiveChannelAsync(PrivateChannel);
        Assert.Equal(101, (await UpgradeAsync(hub, id, "?token=" + TestJwt.ForChannel(id, exp: TestJwt.Now - 30))).StatusCode);
    }

    [Fact]
    public async Task A_token_not_yet_valid_is_401_token_not_yet_valid()
    {
        await using var hub = await StartAsync(o => o.Auth.ClockSkew = 5);
        var id = await hub.CreateActiveChannelAsync(PrivateChannel);
        AssertRefused(await UpgradeAsync(hub, id, "?token=" + TestJwt.ForChannel(id, nbf: TestJwt.Now + 600, exp: TestJwt.Now + 1200)),
            401, "token_not_yet_valid", "not valid before");
    }

    [Fact]
    public async Task A_token_for_another_channel_is_403_token_wrong_channel()
    {
        await using var hub = await StartAsync();
        var id = await hub.CreateActiveChannelAsync(PrivateChannel);
        var other = Guid.NewGuid().ToString();
        var response = await UpgradeAsync(hub, id, protocols: "emithub.token, " + TestJwt.ForChannel(other));
        AssertRefused(response, 403, "token_wrong_channel", other);
    }

    [Fact]
    public async Task A_token_signed_with_another_secret_is_401()
    {
        await using var hub = await StartAsync();
        var id = await hub.CreateActiveChannelAsync(PrivateChannel);
        var forged = TestJwt.ForChannel(id, secret: "another-secret-of-at-least-32-characters");
        AssertRefused(await UpgradeAsync(hub, id, "?token=" + forged), 401, "invalid_token", "signature does not verify");
    }

    [Fact]
    public async Task A_token_whose_payload_was_changed_after_signing_is_401()
    {
        await using var hub = await StartAsync();
        var id = await hub.CreateActiveChannelAsync(PrivateChannel);
        var other = await hub.CreateActiveChannelAsync(PrivateChannel);
        var parts = TestJwt.ForChannel(other).Split('.');
        var tampered = parts[0] + "." + TestJwt.B64(TestJwt.Payload($"\"{id}\"", TestJwt.Now + 600)) + "." + parts[2];
        AssertRefused(await UpgradeAsync(hub, id, "?token=" + tampered), 401, "invalid_token", "signature does not verify");
    }

    [Fact]
    public async Task An_unsigned_alg_none_token_is_401()
    {
        await using var hub = await StartAsync();
        var id = await hub.CreateActiveChannelAsync(PrivateChannel);
        var none = TestJwt.None(TestJwt.Payload($"\"{id}\"", TestJwt.Now + 600));
        AssertRefused(await UpgradeAsync(hub, id, "?token=" + none), 401, "invalid_token", "alg 'none'");
    }

    [Fact]
    public async Task An_HS256_token_keyed_with_the_RS256_public_key_is_refused_algorithm_confusion()
    {
        using var rsa = RSA.Create(2048);
        var pem = rsa.ExportSubjectPublicKeyInfoPem();
        var path = Path.Combine(Path.GetTempPath(), $"emithub-rs256-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(path, pem);
        try
        {
            await using var hub = await TestHubServer.StartAsync(o => o.Auth.TokenPublicKey = path);
            var id = await hub.CreateActiveChannelAsync(PrivateChannel);
            // The classic attack: the verifier's public key, which is public, used as an HMAC secret.
            var confused = TestJwt.Hs256(TestJwt.Payload($"\"{id}\"", TestJwt.Now + 600), pem);
            AssertRefused(await UpgradeAsync(hub, id, "?token=" + confused), 401, "invalid_token", "'HS256' is not accepted");

            var genuine = TestJwt.Rs256(TestJwt.Payload($"\"{id}\"", TestJwt.Now + 600), rsa);
            Assert.Equal(101, (await UpgradeAsync(hub, id, "?token=" + genuine)).StatusCode);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task An_ES256_token_verifies_with_a_P256_public_key()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var path = Path.Combine(Path.GetTempPath(), $"emithub-es256-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(path, ec.ExportSubjectPublicKeyInfoPem());
        try
        {
            await using var hub = await TestHubServer.StartAsync(o => o.Auth.TokenPublicKey = path);
            var id = await hub.CreateActiveChannelAsync(PrivateChannel);
            var token = TestJwt.Es256(TestJwt.Payload($"\"{id}\"", TestJwt.Now + 600), ec);
            Assert.Equal(101, (await UpgradeAsync(hub, id, protocols: "emithub.token, " + token)).StatusCode);
            using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            AssertRefused(await UpgradeAsync(hub, id, "?token=" + TestJwt.Es256(TestJwt.Payload($"\"{id}\"", TestJwt.Now + 600), other)),
                401, "invalid_token", "signature does not verify");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("not-a-jwt")]
    [InlineData("a.b")]
    [InlineData("eyJhbGciOiJIUzI1NiJ9.e30=.c2ln")]
    [InlineData("e30.e30.c2ln")]
    public async Task A_malformed_token_is_401_with_a_sentence(string token)
    {
        await using var hub = await StartAsync();
        var id = await hub.CreateActiveChannelAsync(PrivateChannel);
        AssertRefused(await UpgradeAsync(hub, id, "?token=" + Uri.EscapeDataString(token)), 401, "invalid_token", "JWT");
    }

    [Fact]
    public async Task A_token_without_exp_is_401()
    {
        await using var hub = await StartAsync();
        var id = await hub.CreateActiveChannelAsync(PrivateChannel);
        AssertRefused(await UpgradeAsync(hub, id, "?token=" + TestJwt.Hs256($"{{\"channel\":\"{id}\"}}")), 401, "invalid_token", "exp");
    }

    [Fact]
    public async Task A_private_channel_on_a_server_without_keys_refuses_with_a_sentence_for_the_operator()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync(PrivateChannel);
        AssertRefused(await UpgradeAsync(hub, id, "?token=" + TestJwt.ForChannel(id)), 401, "token_verification_unavailable", "token_secret");
    }

    [Fact]
    public async Task A_public_channel_ignores_tokens_but_still_selects_the_offered_subprotocol()
    {
        await using var hub = await StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        var raw = await UpgradeAsync(hub, id, protocols: "emithub.token, garbage.not.jwt");
        Assert.Equal(101, raw.StatusCode);
        Assert.Equal("emithub.token", raw.Header("Sec-WebSocket-Protocol"));
        Assert.Null((await UpgradeAsync(hub, id)).Header("Sec-WebSocket-Protocol"));
    }

    [Fact]
    public async Task A_connection_whose_token_expires_is_closed_4001_token_expired()
    {
        await using var hub = await StartAsync(o => o.Auth.ClockSkew = 0);
        var id = await hub.CreateActiveChannelAsync(PrivateChannel);
        using var ws = await ConnectWithProtocolAsync(hub, id, TestJwt.ForChannel(id, exp: TestJwt.Now + 3));
        Assert.Equal("connected", (await ws.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());
        using var longer = await ConnectWithProtocolAsync(hub, id, TestJwt.ForChannel(id, exp: TestJwt.Now + 600));
        await longer.ReceiveEnvelopeAsync();

        Assert.Null(await ws.ReceiveTextAsync(timeoutSeconds: 30));
        Assert.Equal(4001, (int)ws.CloseStatus!.Value);
        Assert.Equal("token expired", ws.CloseStatusDescription);

        // The other subscriber is untouched.
        await hub.BroadcastAsync(id, "A005");
        Assert.Equal("A005", (await longer.ReceiveEnvelopeAsync())!.Value.GetProperty("message").GetString());
    }

    [Fact]
    public async Task The_token_sub_is_the_sender_of_client_messages()
    {
        await using var hub = await StartAsync();
        var id = await hub.CreateActiveChannelAsync(PrivateChannel);
        using var ws = await ConnectWithProtocolAsync(hub, id, TestJwt.ForChannel(id, sub: "recepcion-1"));
        await ws.ReceiveEnvelopeAsync();
        await ws.SendAsync(Encoding.UTF8.GetBytes("Hola"), WebSocketMessageType.Text, true, CancellationToken.None);
        var relayed = (await ws.ReceiveEnvelopeAsync())!.Value;
        Assert.Equal("client_message", relayed.GetProperty("status").GetString());
        Assert.Equal("recepcion-1", relayed.GetProperty("data").GetProperty("sender").GetString());
        Assert.Equal("Hola", relayed.GetProperty("data").GetProperty("original_message").GetString());
    }

    [Fact]
    public async Task The_tokens_endpoint_mints_a_token_that_opens_the_channel()
    {
        await using var hub = await StartAsync(o => o.ApiKey = "operator-key");
        var create = TestHubServer.Request(HttpMethod.Post, "/api/v1/channels", PrivateChannel, bearer: "operator-key");
        var id = JsonDocument.Parse(await (await hub.Client.SendAsync(create)).Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        await hub.Client.SendAsync(TestHubServer.Request(HttpMethod.Put, $"/api/v1/channels/{id}/start", bearer: "operator-key"));

        var unauthorized = await hub.Client.SendAsync(TestHubServer.Request(HttpMethod.Post, $"/api/v1/channels/{id}/tokens", "{}"));
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);

        var minted = await hub.Client.SendAsync(TestHubServer.Request(HttpMethod.Post, $"/api/v1/channels/{id}/tokens",
            """{"sub":"pantalla-3","ttl_seconds":120}""", bearer: "operator-key"));
        Assert.Equal(HttpStatusCode.OK, minted.StatusCode);
        var body = JsonDocument.Parse(await minted.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(id, body.GetProperty("channel_id").GetString());
        Assert.Equal("pantalla-3", body.GetProperty("sub").GetString());
        var expires = DateTimeOffset.Parse(body.GetProperty("expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange((expires - DateTimeOffset.UtcNow).TotalSeconds, 100, 125);

        using var ws = await ConnectWithProtocolAsync(hub, id, body.GetProperty("token").GetString()!);
        Assert.Equal("connected", (await ws.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());

        var badTtl = await hub.Client.SendAsync(TestHubServer.Request(HttpMethod.Post, $"/api/v1/channels/{id}/tokens",
            """{"ttl_seconds":0}""", bearer: "operator-key"));
        Assert.Equal(HttpStatusCode.BadRequest, badTtl.StatusCode);
        Assert.Contains("ttl_seconds", await badTtl.Content.ReadAsStringAsync());
        var unknown = await hub.Client.SendAsync(TestHubServer.Request(HttpMethod.Post, $"/api/v1/channels/{Guid.NewGuid()}/tokens", bearer: "operator-key"));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Minting_without_a_token_secret_is_409_with_a_sentence()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync(PrivateChannel);
        var response = await hub.Client.PostAsync($"/api/v1/channels/{id}/tokens", null);
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("token_secret", await response.Content.ReadAsStringAsync());
    }
}
