using System.Net;
using System.Text.Json;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Http;

/// <summary>The REST API of SPEC §2/§6 against the real server with HttpClient.</summary>
public class RestApiEndToEndTests
{
    // The seed's Quick Start bodies, verbatim.
    private const string QuickStartCreate = """
        {
            "name": "Sistema de Turnos",
            "description": "Canal para llamar turnos en clínica",
            "settings": {
              "max_connections": 100,
              "allow_client_messages": true,
              "persist_messages": false,
              "rate_limit_per_minute": 30
            }
          }
        """;

    private const string QuickStartBroadcast = """
        {
            "content": "A004",
            "message_type": "Broadcast"
          }
        """;

    private static async Task<(HttpStatusCode Status, JsonElement Json, HttpResponseMessage Response)> SendAsync(TestHubServer server, HttpMethod method, string path, string? json = null, string? bearer = null)
    {
        var response = await server.Client.SendAsync(TestHubServer.Request(method, path, json, bearer));
        var text = await response.Content.ReadAsStringAsync();
        var element = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return (response.StatusCode, element, response);
    }

    private static void AssertError(JsonElement json, string code)
    {
        Assert.Equal(code, json.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(json.GetProperty("error").GetString()));
        Assert.Equal(2, json.EnumerateObject().Count());
    }

    private static async Task<string> CreateAsync(TestHubServer server, string body = QuickStartCreate)
    {
        var (status, json, _) = await SendAsync(server, HttpMethod.Post, "/api/v1/channels", body);
        Assert.Equal(HttpStatusCode.Created, status);
        return json.GetProperty("id").GetString()!;
    }

    [Fact]
    public async Task The_seed_quick_start_works_end_to_end()
    {
        await using var server = await TestHubServer.StartAsync();

        var (status, channel, response) = await SendAsync(server, HttpMethod.Post, "/api/v1/channels", QuickStartCreate);
        Assert.Equal(HttpStatusCode.Created, status);
        var id = channel.GetProperty("id").GetString()!;
        Assert.True(Guid.TryParseExact(id, "D", out _));
        Assert.Equal($"/api/v1/channels/{id}", response.Headers.Location!.OriginalString);
        Assert.Equal("Sistema de Turnos", channel.GetProperty("name").GetString());
        Assert.Equal("Canal para llamar turnos en clínica", channel.GetProperty("description").GetString());
        Assert.Equal("Created", channel.GetProperty("status").GetString());
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", channel.GetProperty("created_at").GetString());
        Assert.Equal(channel.GetProperty("created_at").GetString(), channel.GetProperty("updated_at").GetString());
        var settings = channel.GetProperty("settings");
        Assert.Equal(100, settings.GetProperty("max_connections").GetInt32());
        Assert.True(settings.GetProperty("allow_client_messages").GetBoolean());
        Assert.False(settings.GetProperty("persist_messages").GetBoolean());
        Assert.Equal(30, settings.GetProperty("rate_limit_per_minute").GetInt32());
        Assert.Equal(0, settings.GetProperty("replay_last").GetInt32());
        Assert.Equal(0, channel.GetProperty("stats").GetProperty("connections").GetInt32());
        Assert.Equal(0, channel.GetProperty("stats").GetProperty("messages_sent").GetInt64());
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);

        var (listStatus, list, _) = await SendAsync(server, HttpMethod.Get, "/api/v1/channels");
        Assert.Equal(HttpStatusCode.OK, listStatus);
        Assert.Equal(id, Assert.Single(list.EnumerateArray()).GetProperty("id").GetString());

        var (getStatus, got, _) = await SendAsync(server, HttpMethod.Get, $"/api/v1/channels/{id}");
        Assert.Equal(HttpStatusCode.OK, getStatus);
        Assert.Equal("Sistema de Turnos", got.GetProperty("name").GetString());

        var (startStatus, started, _) = await SendAsync(server, HttpMethod.Put, $"/api/v1/channels/{id}/start");
        Assert.Equal(HttpStatusCode.OK, startStatus);
        Assert.Equal("Active", started.GetProperty("status").GetString());

        var (broadcastStatus, ack, _) = await SendAsync(server, HttpMethod.Post, $"/api/v1/channels/{id}/broadcast", QuickStartBroadcast);
        Assert.Equal(HttpStatusCode.OK, broadcastStatus);
        Assert.Equal(1, ack.GetProperty("sequence").GetInt64());
        Assert.Equal(0, ack.GetProperty("recipients").GetInt32());
        Assert.EndsWith("Z", ack.GetProperty("timestamp").GetString());

        var (pauseStatus, paused, _) = await SendAsync(server, HttpMethod.Put, $"/api/v1/channels/{id}/pause");
        Assert.Equal(HttpStatusCode.OK, pauseStatus);
        Assert.Equal("Paused", paused.GetProperty("status").GetString());

        var (refused, error, _) = await SendAsync(server, HttpMethod.Post, $"/api/v1/channels/{id}/broadcast", QuickStartBroadcast);
        Assert.Equal(HttpStatusCode.Conflict, refused);
        AssertError(error, "channel_not_active");

        var (stopStatus, stopped, _) = await SendAsync(server, HttpMethod.Put, $"/api/v1/channels/{id}/stop");
        Assert.Equal(HttpStatusCode.OK, stopStatus);
        Assert.Equal("Stopped", stopped.GetProperty("status").GetString());
        Assert.Equal(1, stopped.GetProperty("stats").GetProperty("messages_sent").GetInt64());
    }

    [Fact]
    public async Task Create_errors_are_400_415_and_413_with_the_error_shape()
    {
        await using var server = await TestHubServer.StartAsync(o => o.MessageSizeLimit = 1000);
        foreach (var body in new[]
        {
            "{", "[]", "{}", "{\"name\": \"\"}", "{\"name\": 5}", $"{{\"name\": \"{new string('n', 201)}\"}}",
            $"{{\"name\": \"a\", \"description\": \"{new string('d', 2001)}\"}}",
            "{\"name\": \"a\", \"settings\": {\"max_connections\": 0}}",
            "{\"name\": \"a\", \"settings\": {\"max_connections\": 1.5}}",
            "{\"name\": \"a\", \"settings\": {\"replay_last\": 101}}",
            "{\"name\": \"a\", \"name\": \"b\"}",
            new string('[', 65) + new string(']', 65),
        })
        {
            var (status, json, _) = await SendAsync(server, HttpMethod.Post, "/api/v1/channels", body);
            Assert.True(status == HttpStatusCode.BadRequest, body);
            Assert.Equal(2, json.EnumerateObject().Count());
        }

        var plain = new HttpRequestMessage(HttpMethod.Post, "/api/v1/channels") { Content = new StringContent("{\"name\":\"a\"}") };
        var notJson = await server.Client.SendAsync(plain);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, notJson.StatusCode);
        AssertError(JsonDocument.Parse(await notJson.Content.ReadAsStringAsync()).RootElement, "unsupported_media_type");

        var withParameters = new HttpRequestMessage(HttpMethod.Post, "/api/v1/channels") { Content = new StringContent("{\"name\":\"a\"}") };
        withParameters.Content.Headers.Remove("Content-Type");
        withParameters.Content.Headers.TryAddWithoutValidation("Content-Type", "Application/JSON; charset=UTF-8");
        Assert.Equal(HttpStatusCode.Created, (await server.Client.SendAsync(withParameters)).StatusCode);

        // Over message_size_limit + 64 KiB: refused from Content-Length before the body is read.
        var (tooLarge, tooLargeJson, _) = await SendAsync(server, HttpMethod.Post, "/api/v1/channels",
            $"{{\"name\": \"{new string('x', 1000 + 64 * 1024)}\"}}");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge);
        AssertError(tooLargeJson, "body_too_large");
    }

    [Fact]
    public async Task Unknown_or_malformed_ids_are_404_and_wrong_methods_405()
    {
        await using var server = await TestHubServer.StartAsync();
        var unknown = Guid.NewGuid();
        foreach (var (method, path) in new[]
        {
            (HttpMethod.Get, $"/api/v1/channels/{unknown}"),
            (HttpMethod.Get, "/api/v1/channels/not-a-uuid"),
            (HttpMethod.Put, $"/api/v1/channels/{unknown}/start"),
            (HttpMethod.Put, "/api/v1/channels/123/pause"),
            (HttpMethod.Put, $"/api/v1/channels/{unknown}/stop"),
            (HttpMethod.Delete, $"/api/v1/channels/{unknown}"),
            (HttpMethod.Get, $"/api/v1/channels/{unknown}/messages"),
        })
        {
            var (status, json, _) = await SendAsync(server, method, path);
            Assert.Equal(HttpStatusCode.NotFound, status);
            AssertError(json, "channel_not_found");
        }
        var (patch404, _, _) = await SendAsync(server, HttpMethod.Patch, $"/api/v1/channels/{unknown}", "{\"name\":\"x\"}");
        Assert.Equal(HttpStatusCode.NotFound, patch404);
        var (broadcast404, _, _) = await SendAsync(server, HttpMethod.Post, $"/api/v1/channels/{unknown}/broadcast", "{\"content\":\"x\"}");
        Assert.Equal(HttpStatusCode.NotFound, broadcast404);

        foreach (var path in new[] { "/nope", "/api/v1/channelsx", "/api/v1/channels/", $"/api/v1/channels/{unknown}/nope", "/api/v1" })
        {
            var (status, json, _) = await SendAsync(server, HttpMethod.Get, path);
            Assert.True(status == HttpStatusCode.NotFound, path);
            AssertError(json, "not_found");
        }

        foreach (var (method, path, allow) in new[]
        {
            (HttpMethod.Delete, "/api/v1/channels", "GET, POST"),
            (HttpMethod.Post, $"/api/v1/channels/{unknown}", "GET, PATCH, DELETE"),
            (HttpMethod.Get, $"/api/v1/channels/{unknown}/start", "PUT"),
            (HttpMethod.Get, $"/api/v1/channels/{unknown}/broadcast", "POST"),
            (HttpMethod.Post, "/health", "GET"),
            (HttpMethod.Put, "/", "GET"),
        })
        {
            var (status, json, response) = await SendAsync(server, method, path);
            Assert.True(status == HttpStatusCode.MethodNotAllowed, $"{method} {path}");
            AssertError(json, "method_not_allowed");
            Assert.StartsWith(allow, string.Join(", ", response.Content.Headers.Allow));
        }
    }

    [Fact]
    public async Task Status_machine_conflicts_patch_and_delete()
    {
        await using var server = await TestHubServer.StartAsync();
        var id = await CreateAsync(server);
        Assert.Equal(HttpStatusCode.Conflict, (await SendAsync(server, HttpMethod.Put, $"/api/v1/channels/{id}/pause")).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await SendAsync(server, HttpMethod.Put, $"/api/v1/channels/{id}/stop")).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await SendAsync(server, HttpMethod.Post, $"/api/v1/channels/{id}/broadcast", "{\"content\":\"x\"}")).Status);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(server, HttpMethod.Put, $"/api/v1/channels/{id}/start")).Status);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(server, HttpMethod.Put, $"/api/v1/channels/{id}/start")).Status);

        var (patchStatus, patched, _) = await SendAsync(server, HttpMethod.Patch, $"/api/v1/channels/{id}",
            "{\"name\": \"Renamed\", \"settings\": {\"replay_last\": 3}}");
        Assert.Equal(HttpStatusCode.OK, patchStatus);
        Assert.Equal("Renamed", patched.GetProperty("name").GetString());
        Assert.Equal("Canal para llamar turnos en clínica", patched.GetProperty("description").GetString());
        Assert.Equal(3, patched.GetProperty("settings").GetProperty("replay_last").GetInt32());
        Assert.Equal(100, patched.GetProperty("settings").GetProperty("max_connections").GetInt32());
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(server, HttpMethod.Patch, $"/api/v1/channels/{id}", "{\"name\": 7}")).Status);

        var (deleteStatus, _, deleteResponse) = await SendAsync(server, HttpMethod.Delete, $"/api/v1/channels/{id}");
        Assert.Equal(HttpStatusCode.NoContent, deleteStatus);
        Assert.Empty(await deleteResponse.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(server, HttpMethod.Get, $"/api/v1/channels/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(server, HttpMethod.Delete, $"/api/v1/channels/{id}")).Status);
    }

    [Fact]
    public async Task Broadcast_errors_are_400_413_and_429_with_retry_after()
    {
        await using var server = await TestHubServer.StartAsync(o => o.MessageSizeLimit = 10);
        var id = await CreateAsync(server, "{\"name\": \"r\", \"settings\": {\"rate_limit_per_minute\": 1}}");
        await SendAsync(server, HttpMethod.Put, $"/api/v1/channels/{id}/start");

        var (noContent, json, _) = await SendAsync(server, HttpMethod.Post, $"/api/v1/channels/{id}/broadcast", "{\"message_type\": \"Broadcast\"}");
        Assert.Equal(HttpStatusCode.BadRequest, noContent);
        Assert.Equal(2, json.EnumerateObject().Count());
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(server, HttpMethod.Post, $"/api/v1/channels/{id}/broadcast", "{\"content\": 5}")).Status);

        var (tooLarge, _, _) = await SendAsync(server, HttpMethod.Post, $"/api/v1/channels/{id}/broadcast", "{\"content\": \"12345678901\"}");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge);

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(server, HttpMethod.Post, $"/api/v1/channels/{id}/broadcast", "{\"content\": \"A1\"}")).Status);
        var (limited, limitedJson, response) = await SendAsync(server, HttpMethod.Post, $"/api/v1/channels/{id}/broadcast", "{\"content\": \"A2\"}");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited);
        Assert.Equal(2, limitedJson.EnumerateObject().Count());
        Assert.True(response.Headers.RetryAfter!.Delta >= TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Messages_pages_history_and_validates_after_and_limit()
    {
        await using var server = await TestHubServer.StartAsync();
        var volatileId = await CreateAsync(server);
        var (notPersisting, json409, _) = await SendAsync(server, HttpMethod.Get, $"/api/v1/channels/{volatileId}/messages");
        Assert.Equal(HttpStatusCode.Conflict, notPersisting);
        Assert.Equal(2, json409.EnumerateObject().Count());

        var id = await CreateAsync(server, "{\"name\": \"p\", \"settings\": {\"persist_messages\": true, \"rate_limit_per_minute\": 0}}");
        await SendAsync(server, HttpMethod.Put, $"/api/v1/channels/{id}/start");
        foreach (var content in new[] { "A1", "A2", "A3" })
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(server, HttpMethod.Post, $"/api/v1/channels/{id}/broadcast", $"{{\"content\": \"{content}\"}}")).Status);
        }
        var (status, page, _) = await SendAsync(server, HttpMethod.Get, $"/api/v1/channels/{id}/messages");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["A1", "A2", "A3"], page.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("message").GetString()));
        Assert.Equal(3, page.GetProperty("next_after").GetInt64());

        var (_, second, _) = await SendAsync(server, HttpMethod.Get, $"/api/v1/channels/{id}/messages?after=1&limit=1");
        var only = Assert.Single(second.GetProperty("messages").EnumerateArray());
        Assert.Equal(2, only.GetProperty("sequence").GetInt64());
        Assert.Equal("broadcast", only.GetProperty("status").GetString());
        Assert.Equal(2, second.GetProperty("next_after").GetInt64());

        var (_, empty, _) = await SendAsync(server, HttpMethod.Get, $"/api/v1/channels/{id}/messages?after=3");
        Assert.Empty(empty.GetProperty("messages").EnumerateArray());
        Assert.Equal(3, empty.GetProperty("next_after").GetInt64());

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(server, HttpMethod.Get, $"/api/v1/channels/{id}/messages?limit=1000")).Status);
        foreach (var query in new[] { "limit=1001", "limit=0", "limit=abc", "after=-1", "after=x" })
        {
            var (bad, badJson, _) = await SendAsync(server, HttpMethod.Get, $"/api/v1/channels/{id}/messages?{query}");
            Assert.True(bad == HttpStatusCode.BadRequest, query);
            AssertError(badJson, "invalid_query");
        }
    }

    [Fact]
    public async Task Health_ready_info_and_docs_answer_as_the_spec_says()
    {
        await using var server = await TestHubServer.StartAsync();
        foreach (var path in new[] { "/health", "/api/v1/health" })
        {
            var (status, json, response) = await SendAsync(server, HttpMethod.Get, path);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("healthy", json.GetProperty("status").GetString());
            Assert.Equal("emit-hub", json.GetProperty("service").GetString());
            Assert.Equal("0.1.0", json.GetProperty("version").GetString());
            Assert.EndsWith("Z", json.GetProperty("timestamp").GetString());
            Assert.Equal("emit-hub", response.Headers.Server.ToString());
            Assert.NotNull(response.Headers.Date);
        }
        foreach (var path in new[] { "/ready", "/api/v1/ready" })
        {
            var (status, json, _) = await SendAsync(server, HttpMethod.Get, path);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("""{"status":"ready","checks":{"database":"ok","memory":"ok"}}""", json.GetRawText());
        }
        server.Store.IsHealthy = false;
        var (unready, unreadyJson, _) = await SendAsync(server, HttpMethod.Get, "/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, unready);
        Assert.Equal("unavailable", unreadyJson.GetProperty("checks").GetProperty("database").GetString());
        Assert.Equal("ok", unreadyJson.GetProperty("checks").GetProperty("memory").GetString());

        var (infoStatus, info, _) = await SendAsync(server, HttpMethod.Get, "/");
        Assert.Equal(HttpStatusCode.OK, infoStatus);
        Assert.Equal("""{"service":"emit-hub","version":"0.1.0","docs":"/docs","health":"/health","api":"/api/v1"}""", info.GetRawText());

        var docs = await server.Client.GetAsync("/docs");
        Assert.Equal(HttpStatusCode.OK, docs.StatusCode);
        Assert.Equal("text/html", docs.Content.Headers.ContentType!.MediaType);
        var html = await docs.Content.ReadAsStringAsync();
        foreach (var expected in new[]
        {
            "POST /channels", "GET /channels/{id}", "PATCH /channels/{id}", "DELETE /channels/{id}", "/start", "/pause", "/stop",
            "/broadcast", "/messages", "/ws", "/health", "/ready", "connected", "denied", "client_message", "stopped", "resumed",
            "max_connections", "allow_client_messages", "persist_messages", "rate_limit_per_minute", "replay_last", "echo_path",
            "EMIT_HUB_HOST", "EMIT_HUB_PORT", "EMIT_HUB_LOG_LEVEL", "EMIT_HUB_DB_PATH", "EMIT_HUB_MAX_CONNECTIONS",
            "EMIT_HUB_MESSAGE_SIZE_LIMIT", "EMIT_HUB_WS_TIMEOUT", "EMIT_HUB_WS_PING_INTERVAL", "EMIT_HUB_CORS_ORIGINS",
            "EMIT_HUB_PERSIST_MESSAGES", "EMIT_HUB_MESSAGE_RETENTION_DAYS", "EMIT_HUB_AUTO_BACKUP", "EMIT_HUB_CONFIG",
            "EMIT_HUB_API_KEY", "EMIT_HUB_LOG_FORMAT", "curl -X POST", "new WebSocket(",
        })
        {
            Assert.Contains(expected, html);
        }
    }
}
