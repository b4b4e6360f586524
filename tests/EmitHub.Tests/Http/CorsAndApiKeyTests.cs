using System.Net;
using EmitHub.Core.Configuration;
using EmitHub.Net.Routing;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Http;

/// <summary>API key and CORS behaviour of SPEC §2 and §6, end to end.</summary>
public class CorsAndApiKeyTests
{
    private static async Task<HttpResponseMessage> SendAsync(TestHubServer server, HttpMethod method, string path, string? origin = null,
        string? bearer = null, string? preflightMethod = null, string? json = null)
    {
        var request = TestHubServer.Request(method, path, json, bearer);
        if (origin != null)
        {
            request.Headers.Add("Origin", origin);
        }
        if (preflightMethod != null)
        {
            request.Headers.Add("Access-Control-Request-Method", preflightMethod);
            request.Headers.Add("Access-Control-Request-Headers", "content-type, authorization");
        }
        return await server.Client.SendAsync(request);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(", ", values) : null;

    [Fact]
    public async Task With_an_api_key_channel_endpoints_need_the_bearer_key_and_the_rest_stays_open()
    {
        await using var server = await TestHubServer.StartAsync(o => o.ApiKey = "s3cret-key");
        var missing = await SendAsync(server, HttpMethod.Get, "/api/v1/channels");
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal("Bearer", missing.Headers.WwwAuthenticate.ToString());
        Assert.Contains("\"code\":\"unauthorized\"", await missing.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(server, HttpMethod.Get, "/api/v1/channels", bearer: "s3cret-kez")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(server, HttpMethod.Get, "/api/v1/channels", bearer: "s3cret-key2")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(server, HttpMethod.Post, "/api/v1/channels", json: "{\"name\":\"a\"}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(server, HttpMethod.Get, $"/api/v1/channels/{Guid.NewGuid()}")).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(server, HttpMethod.Get, "/api/v1/channels", bearer: "s3cret-key")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(server, HttpMethod.Post, "/api/v1/channels", bearer: "s3cret-key", json: "{\"name\":\"a\"}")).StatusCode);
        var lowerScheme = TestHubServer.Request(HttpMethod.Get, "/api/v1/channels");
        lowerScheme.Headers.TryAddWithoutValidation("Authorization", "bearer s3cret-key");
        Assert.Equal(HttpStatusCode.OK, (await server.Client.SendAsync(lowerScheme)).StatusCode);

        foreach (var open in new[] { "/health", "/api/v1/health", "/ready", "/api/v1/ready", "/", "/docs" })
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(server, HttpMethod.Get, open)).StatusCode);
        }
        // The WebSocket upgrade path never needs the key (browsers cannot send Authorization on it).
        var channel = server.Registry.List()[0].Id;
        Assert.Equal(HttpStatusCode.UpgradeRequired, (await SendAsync(server, HttpMethod.Get, $"/api/v1/channels/{channel}/ws")).StatusCode);
        // Nor does a preflight.
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(server, HttpMethod.Options, "/api/v1/channels", origin: "http://localhost:3000", preflightMethod: "POST")).StatusCode);
    }

    [Fact]
    public async Task The_api_key_is_read_live_so_hot_reload_applies_to_the_next_request()
    {
        await using var server = await TestHubServer.StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(server, HttpMethod.Get, "/api/v1/channels")).StatusCode);
        server.Options.Update(new EmitHubOptions { Host = "127.0.0.1", Port = 0, ApiKey = "k" });
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(server, HttpMethod.Get, "/api/v1/channels")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(server, HttpMethod.Get, "/api/v1/channels", bearer: "k")).StatusCode);
    }

    [Theory]
    [InlineData("http://localhost", true)]
    [InlineData("http://localhost:3000", true)]
    [InlineData("http://127.0.0.1:5173", true)]
    [InlineData("https://localhost:3000", false)]
    [InlineData("http://localhost.evil.com", false)]
    [InlineData("http://127.0.0.2", false)]
    [InlineData("http://evil.com", false)]
    [InlineData("null", false)]
    public async Task The_default_localhost_entry_allows_loopback_http_origins_on_any_port(string origin, bool allowed)
    {
        await using var server = await TestHubServer.StartAsync();
        var response = await SendAsync(server, HttpMethod.Get, "/health", origin: origin);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(allowed ? origin : null, Header(response, "Access-Control-Allow-Origin"));
        Assert.Contains("Origin", response.Headers.Vary);
        Assert.Null(Header(response, "Access-Control-Allow-Credentials"));

        var preflight = await SendAsync(server, HttpMethod.Options, "/api/v1/channels", origin: origin, preflightMethod: "POST");
        Assert.Equal(HttpStatusCode.NoContent, preflight.StatusCode);
        Assert.Contains("Origin", preflight.Headers.Vary);
        if (allowed)
        {
            Assert.Equal(origin, Header(preflight, "Access-Control-Allow-Origin"));
            Assert.Equal("GET, POST, PUT, PATCH, DELETE, OPTIONS", Header(preflight, "Access-Control-Allow-Methods"));
            Assert.Equal("Content-Type, Authorization, Accept", Header(preflight, "Access-Control-Allow-Headers"));
            Assert.Equal("3600", Header(preflight, "Access-Control-Max-Age"));
        }
        else
        {
            Assert.DoesNotContain(preflight.Headers, h => h.Key.StartsWith("Access-Control-Allow-", StringComparison.OrdinalIgnoreCase));
        }
    }

    [Fact]
    public async Task Configured_origins_methods_headers_and_max_age_are_used_and_star_allows_any_origin()
    {
        await using var server = await TestHubServer.StartAsync(o =>
        {
            o.Cors.AllowedOrigins = ["https://app.example.com"];
            o.Cors.AllowedMethods = ["GET", "POST"];
            o.Cors.AllowedHeaders = ["Content-Type"];
            o.Cors.MaxAge = 7200;
        });
        var preflight = await SendAsync(server, HttpMethod.Options, "/api/v1/channels", origin: "https://app.example.com", preflightMethod: "POST");
        Assert.Equal("https://app.example.com", Header(preflight, "Access-Control-Allow-Origin"));
        Assert.Equal("GET, POST", Header(preflight, "Access-Control-Allow-Methods"));
        Assert.Equal("Content-Type", Header(preflight, "Access-Control-Allow-Headers"));
        Assert.Equal("7200", Header(preflight, "Access-Control-Max-Age"));
        Assert.Null(Header(await SendAsync(server, HttpMethod.Get, "/health", origin: "http://localhost:3000"), "Access-Control-Allow-Origin"));
        var error = await SendAsync(server, HttpMethod.Get, $"/api/v1/channels/{Guid.NewGuid()}", origin: "https://app.example.com");
        Assert.Equal(HttpStatusCode.NotFound, error.StatusCode);
        Assert.Equal("https://app.example.com", Header(error, "Access-Control-Allow-Origin"));

        var next = new EmitHubOptions { Host = "127.0.0.1", Port = 0 };
        next.Cors.AllowedOrigins = ["*"];
        server.Options.Update(next);
        var any = await SendAsync(server, HttpMethod.Get, "/health", origin: "https://anything.example");
        Assert.Equal("*", Header(any, "Access-Control-Allow-Origin"));
        Assert.Null(Header(any, "Access-Control-Allow-Credentials"));
        Assert.Equal("*", Header(await SendAsync(server, HttpMethod.Options, "/api/v1/channels", origin: "https://x.example", preflightMethod: "DELETE"), "Access-Control-Allow-Origin"));
    }

    [Fact]
    public void Origin_checks_for_websocket_allow_absent_origins()
    {
        var cors = new CorsOptions();
        Assert.True(CorsPolicy.IsOriginAllowed(cors, null));
        Assert.True(CorsPolicy.IsOriginAllowed(cors, "http://127.0.0.1:8080"));
        Assert.False(CorsPolicy.IsOriginAllowed(cors, "http://evil.com"));
        Assert.True(ApiKeyAuthorization.IsAuthorized("Bearer abc", "abc"));
        Assert.False(ApiKeyAuthorization.IsAuthorized("Basic abc", "abc"));
        Assert.False(ApiKeyAuthorization.IsAuthorized(null, "abc"));
        Assert.True(Router.IsJsonContentType("application/json"));
        Assert.True(Router.IsJsonContentType("APPLICATION/JSON ; charset=utf-8"));
        Assert.False(Router.IsJsonContentType("application/jsonx"));
        Assert.False(Router.IsJsonContentType("text/json"));
    }
}
