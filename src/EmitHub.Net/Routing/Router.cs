using EmitHub.Core.Channels;
using EmitHub.Core.Configuration;
using EmitHub.Net.Api;
using EmitHub.Net.Auth;
using EmitHub.Net.Http;
using EmitHub.Net.Metrics;

namespace EmitHub.Net.Routing;

/// <summary>
/// Maps requests to endpoints (SPEC §2, §3, §6): exact paths, 404 for unknown paths and unknown or malformed
/// channel ids, 405 with <c>Allow</c> for a wrong method on a known path, CORS on every answer, and the API key on
/// <c>/api/v1/channels…</c> (except the WebSocket upgrade and preflights). Settings are read from
/// <see cref="LiveOptions.Current"/> once per request, so hot reload applies to the next request.
/// </summary>
public sealed class Router : IHttpApplication
{
    /// <summary>Base path of the channel API.</summary>
    public const string ChannelsPath = "/api/v1/channels";

    private readonly LiveOptions _options;
    private readonly ChannelEndpoints _channels;
    private readonly SystemEndpoints _system;
    private readonly TokenEndpoints _tokens;
    private readonly Func<IWebSocketUpgrade?> _webSocket;
    private readonly Func<IWebSocketUpgrade?> _events;
    private readonly MetricsCollector? _metrics;

    /// <summary>Creates the router.</summary>
    /// <param name="options">Live configuration.</param>
    /// <param name="registry">The channel registry (Core).</param>
    /// <param name="webSocket">Returns the upgrade seam, or null while WebSocket is not available (then 501).</param>
    /// <param name="version">Service version for health and info.</param>
    /// <param name="time">Clock for health timestamps.</param>
    /// <param name="metrics">The collector behind <c>GET /metrics</c>; null answers 404 there.</param>
    /// <param name="events">Returns the Server-Sent Events stream for <c>GET /api/v1/channels/{id}/events</c>, or null (then 501).</param>
    public Router(LiveOptions options, ChannelRegistry registry, Func<IWebSocketUpgrade?> webSocket, string version, TimeProvider time,
        MetricsCollector? metrics = null, Func<IWebSocketUpgrade?>? events = null)
    {
        _options = options;
        _webSocket = webSocket;
        _metrics = metrics;
        _events = events ?? (static () => null);
        _channels = new ChannelEndpoints(registry);
        _system = new SystemEndpoints(registry, version, time);
        _tokens = new TokenEndpoints(registry, options, time);
    }

    /// <inheritdoc />
    public async ValueTask HandleAsync(HttpRequestContext context, CancellationToken cancellationToken)
    {
        var options = _options.Current;
        var head = context.Head;
        var response = context.Response;
        var cors = CorsPolicy.Evaluate(options.Cors, head.GetField("Origin"));

        // A preflight never needs the key and is answered for any path (the browser asks before the real request).
        if (head.Method == "OPTIONS" && head.GetField("Origin") != null && head.GetField("Access-Control-Request-Method") != null)
        {
            CorsPolicy.WritePreflight(response, options.Cors, cors);
            return;
        }

        await RouteAsync(context, options, cancellationToken).ConfigureAwait(false);
        // The client library is public and loaded cross-origin (a module script is fetched in CORS mode): it
        // carries 'Access-Control-Allow-Origin: *' itself.
        if (context.UpgradeTo == null && !head.Path.StartsWith(BrowserAssets.ClientPathPrefix, StringComparison.Ordinal))
        {
            CorsPolicy.Apply(response, cors);
        }
    }

    private async ValueTask RouteAsync(HttpRequestContext context, EmitHubOptions options, CancellationToken ct)
    {
        var head = context.Head;
        var response = context.Response;
        var path = head.Path;
        // HEAD is GET without a body (RFC 9110 §9.3.2); the response writer drops the body.
        var method = head.Method == "HEAD" ? "GET" : head.Method;

        switch (path)
        {
            case "/":
                if (Allow(context, method, "GET"))
                {
                    _system.WriteInfo(response);
                }
                return;
            case "/docs":
                if (Allow(context, method, "GET"))
                {
                    _system.WriteDocs(response);
                }
                return;
            case "/health":
            case "/api/v1/health":
                if (Allow(context, method, "GET"))
                {
                    _system.WriteHealth(response);
                }
                return;
            case "/ready":
            case "/api/v1/ready":
                if (Allow(context, method, "GET"))
                {
                    _system.WriteReady(response);
                }
                return;
            case "/metrics" when _metrics is not null:
                // Behind the API key when one is set: the figures describe the deployment (channel counts, traffic),
                // and Prometheus sends a bearer token with `authorization: credentials:` in its scrape config.
                if (Allow(context, method, "GET") && Authorize(context, options))
                {
                    response.WriteBytes(200, MetricsCollector.ContentType, System.Text.Encoding.UTF8.GetBytes(_metrics.WriteExposition()));
                }
                return;
            case BrowserAssets.ModulePath:
            case BrowserAssets.ClassicPath:
            case BrowserAssets.ConsolePath:
                if (Allow(context, method, "GET"))
                {
                    BrowserAssets.Write(response, path);
                }
                return;
        }

        if (path == WebSockets.WebSocketEndpoint.MultiplexPath)
        {
            // One socket for many channels: like the channel WebSocket, open to browsers (private channels need tokens).
            RouteWebSocket(context, method, channelId: null);
            return;
        }

        if (options.WebSocket.EchoPath is { Length: > 0 } echoPath && path == echoPath)
        {
            RouteWebSocket(context, method, channelId: null);
            return;
        }

        // Files of static_dir come after every route above (API, /docs, /, health, the client library) and never
        // shadow /api/….
        if (options.StaticDir is { Length: > 0 } staticDir && !path.StartsWith("/api/", StringComparison.Ordinal))
        {
            StaticFileEndpoint.Serve(context, staticDir, method);
            return;
        }

        if (!path.StartsWith(ChannelsPath, StringComparison.Ordinal))
        {
            NotFound(response, path);
            return;
        }
        var rest = path.AsSpan(ChannelsPath.Length);
        if (rest.Length > 0 && rest[0] != '/')
        {
            NotFound(response, path);
            return;
        }

        // /api/v1/channels/{id}/ws: the WebSocket upgrade is open (browsers cannot send Authorization on it).
        string? idText = null;
        string? action = null;
        if (rest.Length > 0)
        {
            rest = rest[1..];
            var slash = rest.IndexOf('/');
            idText = (slash < 0 ? rest : rest[..slash]).ToString();
            if (slash >= 0)
            {
                action = rest[(slash + 1)..].ToString();
                if (action.Length == 0 || action.Contains('/'))
                {
                    NotFound(response, path);
                    return;
                }
            }
            if (idText.Length == 0)
            {
                NotFound(response, path);
                return;
            }
        }

        var allowed = (idText, action) switch
        {
            (null, _) => "GET, POST",
            (_, null) => "GET, PATCH, DELETE",
            (_, "start" or "pause" or "stop") => "PUT",
            (_, "broadcast" or "tokens") => "POST",
            (_, "messages" or "ws" or "events") => "GET",
            _ => null,
        };
        if (allowed == null)
        {
            NotFound(response, path);
            return;
        }
        if (action == "ws")
        {
            if (Allow(context, method, allowed))
            {
                RouteWebSocket(context, method, idText);
            }
            return;
        }
        if (action == "events")
        {
            // Like the WebSocket, a subscriber stream: EventSource cannot send Authorization; private channels use tokens.
            if (Allow(context, method, allowed))
            {
                RouteEventStream(context, idText!);
            }
            return;
        }
        if (!Allow(context, method, allowed))
        {
            return;
        }
        if (!Authorize(context, options))
        {
            return;
        }

        if (idText == null)
        {
            if (method == "GET")
            {
                _channels.List(response);
            }
            else if (JsonBodyPolicy.Admit(context, options.Cors))
            {
                await _channels.CreateAsync(context, ct).ConfigureAwait(false);
            }
            return;
        }

        if (!Guid.TryParse(idText, out var id))
        {
            ChannelEndpoints.WriteUnknownChannel(response, idText);
            return;
        }
        switch (action)
        {
            case null when method == "GET":
                _channels.Get(response, id);
                break;
            case null when method == "PATCH":
                if (JsonBodyPolicy.Admit(context, options.Cors))
                {
                    await _channels.PatchAsync(context, id, ct).ConfigureAwait(false);
                }
                break;
            case null:
                await _channels.DeleteAsync(response, id, ct).ConfigureAwait(false);
                break;
            case "start":
            case "pause":
            case "stop":
                await _channels.ChangeStatusAsync(response, id, action, ct).ConfigureAwait(false);
                break;
            case "broadcast":
                if (JsonBodyPolicy.Admit(context, options.Cors))
                {
                    await _channels.BroadcastAsync(context, id, ct).ConfigureAwait(false);
                }
                break;
            case "messages":
                await _channels.MessagesAsync(context, id, ct).ConfigureAwait(false);
                break;
            case "tokens":
                // The body is optional: an empty POST mints a token with the defaults.
                if (context.Body.IsEmpty || JsonBodyPolicy.Admit(context, options.Cors))
                {
                    _tokens.Mint(context, id);
                }
                break;
        }
    }

    /// <summary>True when no API key is set or the request carries it; else writes 401 with
    /// <c>WWW-Authenticate: Bearer</c>.</summary>
    private static bool Authorize(HttpRequestContext context, EmitHubOptions options)
    {
        if (options.ApiKey is { Length: > 0 } apiKey && !ApiKeyAuthorization.IsAuthorized(context.Head.GetField("Authorization"), apiKey))
        {
            context.Response.WriteError(401, "unauthorized", "This endpoint needs the header 'Authorization: Bearer <api key>'; the key is missing or wrong.");
            context.Response.AddHeader("WWW-Authenticate", "Bearer");
            return false;
        }
        return true;
    }

    private void RouteWebSocket(HttpRequestContext context, string method, string? channelId)
    {
        var response = context.Response;
        if (!Allow(context, method, "GET"))
        {
            return;
        }
        if (channelId != null && (!Guid.TryParse(channelId, out var id) || _channels.Registry.Get(id) == null))
        {
            ChannelEndpoints.WriteUnknownChannel(response, channelId);
            return;
        }
        var head = context.Head;
        if (!head.UpgradeWebSocket || !head.ConnectionUpgrade)
        {
            response.WriteError(426, "upgrade_required", "This path is a WebSocket endpoint; send 'Upgrade: websocket' and 'Connection: Upgrade' (RFC 6455).");
            response.AddHeader("Upgrade", "websocket");
            response.AddHeader("Connection", "Upgrade");
            return;
        }
        if (_webSocket() is { } upgrade)
        {
            context.UpgradeTo = upgrade;
            return;
        }
        response.WriteError(501, "websocket_unavailable", "WebSocket connections are not available in this build yet.");
    }

    private void RouteEventStream(HttpRequestContext context, string channelId)
    {
        if (!Guid.TryParse(channelId, out var id) || _channels.Registry.Get(id) == null)
        {
            ChannelEndpoints.WriteUnknownChannel(context.Response, channelId);
            return;
        }
        if (_events() is { } events)
        {
            context.UpgradeTo = events;
            return;
        }
        context.Response.WriteError(501, "events_unavailable", "Server-Sent Events are not available in this build.");
    }

    /// <summary>True when <paramref name="method"/> is in <paramref name="allowed"/>; else writes 405 with
    /// <c>Allow</c> (or, for a plain OPTIONS, 204 with <c>Allow</c>).</summary>
    private static bool Allow(HttpRequestContext context, string method, string allowed)
    {
        foreach (var range in allowed.AsSpan().Split(','))
        {
            if (allowed.AsSpan()[range].Trim().SequenceEqual(method))
            {
                return true;
            }
        }
        var response = context.Response;
        var allowHeader = allowed.Contains("GET", StringComparison.Ordinal) ? allowed + ", HEAD, OPTIONS" : allowed + ", OPTIONS";
        if (method == "OPTIONS")
        {
            response.WriteEmpty(204);
        }
        else
        {
            response.WriteError(405, "method_not_allowed", $"{method} is not allowed on {context.Head.Path}; allowed: {allowed}.");
        }
        response.AddHeader("Allow", allowHeader);
        return false;
    }

    /// <summary>True for <c>application/json</c>, case-insensitive (RFC 9110 §8.3.1), whose parameters name no charset
    /// or <c>charset=utf-8</c> (token or quoted, any case): JSON is UTF-8 (RFC 8259 §8.1), so a body declared in
    /// another charset would be misread, and is refused (415) instead.</summary>
    public static bool IsJsonContentType(string? contentType)
    {
        if (contentType == null)
        {
            return false;
        }
        var parts = contentType.Split(';');
        if (!parts[0].Trim(' ', '\t').Equals("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        foreach (var parameter in parts.AsSpan(1))
        {
            var equals = parameter.IndexOf('=');
            if (equals >= 0 && parameter[..equals].Trim(' ', '\t').Equals("charset", StringComparison.OrdinalIgnoreCase) &&
                !parameter[(equals + 1)..].Trim(' ', '\t').Trim('"').Equals("utf-8", StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
        }
        return true;
    }

    private static void NotFound(HttpResponse response, string path) =>
        response.WriteError(404, "not_found", $"No endpoint at {path}; see /docs for the API.");
}
