using System.Net;
using System.Text;
using System.Text.Json;
using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Http;

/// <summary>
/// Bodies sent without <c>Content-Type: application/json</c> (SPEC §4, issue 12): no type, or curl's default
/// <c>application/x-www-form-urlencoded</c>, is read as JSON from scripts (no Origin) and allowed origins; from any
/// other origin it is refused (403) so a cross-site page cannot broadcast with a simple form post; other explicit
/// media types stay 415.
/// </summary>
public sealed class UntypedJsonBodyTests
{
    private const string ChannelBody = """{"name": "Consultorio Dr. García", "settings": {"max_connections": 50}}""";

    private static HttpRequestMessage Post(string path, string body, string? contentType, string? origin = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) };
        if (contentType != null)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }
        if (origin != null)
        {
            request.Headers.TryAddWithoutValidation("Origin", origin);
        }
        return request;
    }

    private static async Task<(HttpStatusCode Status, JsonElement Json)> SendAsync(TestHubServer hub, HttpRequestMessage request)
    {
        using var response = await hub.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("Application/X-WWW-Form-Urlencoded; charset=UTF-8")]
    public async Task A_JSON_body_without_a_JSON_type_is_read_as_JSON_from_a_script(string? contentType)
    {
        await using var hub = await TestHubServer.StartAsync();
        var (status, json) = await SendAsync(hub, Post("/api/v1/channels", ChannelBody, contentType));
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("Consultorio Dr. García", json.GetProperty("name").GetString());
        Assert.Equal(50, json.GetProperty("settings").GetProperty("max_connections").GetInt32());

        var id = json.GetProperty("id").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await hub.Client.PutAsync($"/api/v1/channels/{id}/start", null)).StatusCode);
        using var client = await hub.ConnectAsync(id);
        Assert.Equal("connected", (await client.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());
        var (broadcast, ack) = await SendAsync(hub, Post($"/api/v1/channels/{id}/broadcast",
            """{"content": "🚨 Servidor principal caído", "message_type": "Broadcast"}""", contentType));
        Assert.Equal(HttpStatusCode.OK, broadcast);
        Assert.Equal(1, ack.GetProperty("sequence").GetInt64());
        var envelope = (await client.ReceiveEnvelopeAsync())!.Value;
        Assert.Equal("broadcast", envelope.GetProperty("status").GetString());
        Assert.Equal("🚨 Servidor principal caído", envelope.GetProperty("message").GetString());

        var patch = new HttpRequestMessage(HttpMethod.Patch, $"/api/v1/channels/{id}") { Content = new ByteArrayContent("""{"description": "planta 2"}"""u8.ToArray()) };
        if (contentType != null)
        {
            patch.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }
        var (patched, channel) = await SendAsync(hub, patch);
        Assert.Equal(HttpStatusCode.OK, patched);
        Assert.Equal("planta 2", channel.GetProperty("description").GetString());
    }

    [Theory]
    [InlineData(null, "name=Consultorio")]
    [InlineData("application/x-www-form-urlencoded", "name=Consultorio&settings=1")]
    [InlineData("application/x-www-form-urlencoded", "")]
    public async Task A_form_body_that_is_not_JSON_is_400_naming_the_JSON_content_type(string? contentType, string body)
    {
        await using var hub = await TestHubServer.StartAsync();
        var (status, json) = await SendAsync(hub, Post("/api/v1/channels", body, contentType));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request", json.GetProperty("code").GetString());
        var error = json.GetProperty("error").GetString()!;
        Assert.StartsWith("Request body is not valid JSON", error);
        Assert.Contains("Content-Type: application/json", error);
        Assert.Empty(hub.Registry.List());
    }

    [Fact]
    public async Task A_typed_JSON_error_does_not_talk_about_the_content_type()
    {
        await using var hub = await TestHubServer.StartAsync();
        var (status, json) = await SendAsync(hub, Post("/api/v1/channels", "{", "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.DoesNotContain("Content-Type", json.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("text/xml")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData("text/plain")]
    [InlineData("application/xml")]
    public async Task Other_explicit_media_types_stay_415(string contentType)
    {
        await using var hub = await TestHubServer.StartAsync();
        var (status, json) = await SendAsync(hub, Post("/api/v1/channels", ChannelBody, contentType));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Equal("unsupported_media_type", json.GetProperty("code").GetString());
        Assert.Contains("Content-Type: application/json", json.GetProperty("error").GetString());
        Assert.Contains(contentType, json.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("application/x-www-form-urlencoded")]
    public async Task An_untyped_body_from_an_allowed_origin_is_read_as_JSON(string? contentType)
    {
        await using var hub = await TestHubServer.StartAsync(o => o.Cors.AllowedOrigins = ["localhost", "https://panel.clinica.example"]);
        foreach (var origin in new[] { "http://localhost:3000", "https://panel.clinica.example" })
        {
            var (status, json) = await SendAsync(hub, Post("/api/v1/channels", ChannelBody, contentType, origin));
            Assert.Equal(HttpStatusCode.Created, status);
            Assert.Equal("Consultorio Dr. García", json.GetProperty("name").GetString());
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("application/x-www-form-urlencoded; charset=UTF-8")]
    public async Task A_cross_site_form_post_from_a_disallowed_origin_broadcasts_nothing(string? contentType)
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        using var display = await hub.ConnectAsync(id);
        Assert.Equal("connected", (await display.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());

        // What <form method=post enctype=...> or fetch(..., {mode: 'no-cors'}) on a hostile page sends: no preflight.
        var (status, json) = await SendAsync(hub, Post($"/api/v1/channels/{id}/broadcast",
            """{"content": "FAKE", "message_type": "Broadcast"}""", contentType, "https://evil.example"));
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("origin_not_allowed", json.GetProperty("code").GetString());
        var error = json.GetProperty("error").GetString()!;
        Assert.Contains("https://evil.example", error);
        Assert.Contains("[cors] allowed_origins", error);
        Assert.Contains("Content-Type: application/json", error);

        var (created, _) = await SendAsync(hub, Post("/api/v1/channels", ChannelBody, contentType, "null"));
        Assert.Equal(HttpStatusCode.Forbidden, created);

        using var channel = await hub.Client.GetAsync($"/api/v1/channels/{id}");
        var stats = JsonDocument.Parse(await channel.Content.ReadAsStringAsync()).RootElement.GetProperty("stats");
        Assert.Equal(0, stats.GetProperty("messages_sent").GetInt64());
        Assert.Single(hub.Registry.List());

        // The display's next envelope is the next legitimate broadcast, sequence 1: the refused one never reached it.
        await hub.BroadcastAsync(id, "A004");
        var next = (await display.ReceiveEnvelopeAsync())!.Value;
        Assert.Equal("A004", next.GetProperty("message").GetString());
        Assert.Equal(1, next.GetProperty("sequence").GetInt64());
    }

    [Fact]
    public async Task A_JSON_typed_request_from_a_disallowed_origin_is_unchanged_browsers_must_preflight_it()
    {
        // Only the simple types are origin-checked: application/json cannot be sent cross-site without a preflight,
        // and the preflight from a disallowed origin gets no Access-Control-Allow-* headers.
        await using var hub = await TestHubServer.StartAsync();
        var preflight = new HttpRequestMessage(HttpMethod.Options, "/api/v1/channels");
        preflight.Headers.TryAddWithoutValidation("Origin", "https://evil.example");
        preflight.Headers.TryAddWithoutValidation("Access-Control-Request-Method", "POST");
        preflight.Headers.TryAddWithoutValidation("Access-Control-Request-Headers", "content-type");
        using var answer = await hub.Client.SendAsync(preflight);
        Assert.False(answer.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task A_message_type_other_than_Broadcast_is_400_with_the_allowed_value_and_broadcasts_nothing()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        var (status, json) = await SendAsync(hub, Post($"/api/v1/channels/{id}/broadcast",
            """{"content": "A004", "message_type": "Alert"}""", "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request", json.GetProperty("code").GetString());
        Assert.StartsWith("Field 'message_type' must be \"Broadcast\"", json.GetProperty("error").GetString());
        Assert.Equal(0, hub.Registry.Get(Guid.Parse(id))!.Stats.MessagesSent);

        var (ok, _) = await SendAsync(hub, Post($"/api/v1/channels/{id}/broadcast", """{"content": "A004"}""", "application/json"));
        Assert.Equal(HttpStatusCode.OK, ok);
    }
}
