using EmitHub.Core.Channels;
using EmitHub.Core.Configuration;
using EmitHub.Core.Fanout;
using EmitHub.Net.Auth;
using EmitHub.Net.Http;
using EmitHub.Net.Multiplex;
using EmitHub.Net.Routing;
using EmitHub.Net.Transport;
using EmitHub.Net.WebSockets.Compression;
using Microsoft.Extensions.Logging;

namespace EmitHub.Net.WebSockets;

/// <summary>
/// Completes the opening handshake (RFC 6455 §4.2, SPEC §3) for <c>GET /api/v1/channels/{id}/ws</c> and the
/// configured <c>[websocket] echo_path</c>, then runs the connection: a channel subscriber, or an echo endpoint
/// for conformance suites. Refusals are HTTP answers with the error shape, never an upgrade: 426 (version, with
/// <c>Sec-WebSocket-Version: 13</c>), 400 (key, HTTP/1.0, bad <c>after</c>), 401 (private channel: no valid
/// subscriber token), 403 (Origin not allowed, or a token for other channels), 404 (unknown channel). A client that
/// offers the <c>emithub.token</c> subprotocol gets it selected in the 101 answer.
/// </summary>
public sealed class WebSocketEndpoint : IWebSocketUpgrade
{
    private readonly LiveOptions _options;
    private readonly ChannelRegistry _registry;
    private readonly Heartbeat _heartbeat;
    private readonly ILogger _logger;
    private readonly RefusedOriginLog _refusedOrigins;
    private readonly ISubscriberTokenValidator _tokens;

    /// <summary>Creates the endpoint. <paramref name="tokens"/> decides on private channels (default: a
    /// <see cref="SubscriberTokenValidator"/> over <paramref name="options"/>).</summary>
    public WebSocketEndpoint(LiveOptions options, ChannelRegistry registry, Heartbeat heartbeat, ILoggerFactory loggerFactory, WebSocketCounters counters,
        ISubscriberTokenValidator? tokens = null)
    {
        _options = options;
        _tokens = tokens ?? new SubscriberTokenValidator(options);
        _registry = registry;
        _heartbeat = heartbeat;
        _logger = loggerFactory.CreateLogger("EmitHub.WebSocket");
        _refusedOrigins = new RefusedOriginLog(_logger, heartbeat.Time);
        Counters = counters;
        PartialMessages = new PartialMessageBudget(options.Current.WebSocket.MaxPartialMessageBytes);
    }

    /// <summary>Server-wide counters of the connections this endpoint ran.</summary>
    public WebSocketCounters Counters { get; }

    /// <summary>The server-wide bound on bytes held by unfinished client messages (<c>max_partial_message_bytes</c>).</summary>
    public PartialMessageBudget PartialMessages { get; }

    /// <summary>Test hook: called with each WebSocket this endpoint accepts (after its 101). Null in production.</summary>
    internal Action<WebSocketConnection>? AcceptedForTests { get; set; }

    /// <inheritdoc />
    public async ValueTask<IUpgradedConnection?> AcceptAsync(HttpRequestHead request, ConnectionContext connection, CancellationToken cancellationToken)
    {
        var options = _options.Current;
        var version = request.Version == HttpVersion.Http10 ? new Version(1, 0) : new Version(1, 1);
        var handshake = WebSocketHandshake.Validate(request.Method, version, request.GetCombinedField("Upgrade"),
            request.GetCombinedField("Connection"), request.GetCombinedField("Sec-WebSocket-Version"), request.GetCombinedField("Sec-WebSocket-Key"));
        if (!handshake.IsAccepted)
        {
            await RefuseAsync(connection, handshake.StatusCode, HandshakeCode(handshake.StatusCode), handshake.Reason,
                handshake.ExtraHeaders).ConfigureAwait(false);
            return null;
        }
        var origin = request.GetField("Origin");
        if (origin is not null && !CorsPolicy.IsOriginAllowed(options.Cors, origin))
        {
            _refusedOrigins.Refused(origin);
            await RefuseAsync(connection, 403, "origin_not_allowed",
                $"Origin '{origin}' is not in [cors] allowed_origins; WebSocket connections from it are refused.").ConfigureAwait(false);
            return null;
        }

        var echo = options.WebSocket.EchoPath is { Length: > 0 } echoPath && string.Equals(request.Path, echoPath, StringComparison.Ordinal);
        var multiplexed = string.Equals(request.Path, MultiplexPath, StringComparison.Ordinal);
        var channelId = Guid.Empty;
        long? after = null;
        string? epoch = null;
        if (!echo && !multiplexed)
        {
            // The router answered 404 for unknown channels; a delete racing this handshake is closed 1001 by Core.
            if (!TryGetChannelId(request.Path, out channelId))
            {
                await RefuseAsync(connection, 404, "channel_not_found", $"Channel {Segment(request.Path)} does not exist.").ConfigureAwait(false);
                return null;
            }
            if (!TryParseQuery(request.Query, out after, out epoch, out var queryError))
            {
                await RefuseAsync(connection, 400, "invalid_query", queryError!).ConfigureAwait(false);
                return null;
            }
        }

        string? subject = null;
        DateTimeOffset? closeAt = null;
        var token = SubscriberTokenSources.Find(request.GetCombinedField("Sec-WebSocket-Protocol"), request.Query, out var selectSubprotocol);
        // A channel deleted since the router looked it up is closed 1001 by Core; nothing to authorize.
        if (!echo && !multiplexed && _registry.Get(channelId) is { } channel)
        {
            var access = await _tokens.AuthorizeAsync(channel, token).ConfigureAwait(false);
            if (!access.IsAllowed)
            {
                // RFC 6750 §3: the scheme and why, never the token.
                await RefuseAsync(connection, access.StatusCode, access.Code!, access.Error!,
                [
                    new("WWW-Authenticate", access.WwwAuthenticate),
                ]).ConfigureAwait(false);
                return null;
            }
            subject = access.Subject;
            closeAt = access.ExpiresAt + TimeSpan.FromSeconds(options.Auth.ClockSkew);
        }

        PartialMessages.MaxBytes = options.WebSocket.MaxPartialMessageBytes;
        var settings = SettingsFor(options);
        var deflate = PerMessageDeflateNegotiation.Negotiate(request.GetCombinedField("Sec-WebSocket-Extensions"), settings.Compression);
        settings = settings.WithDeflate(deflate);
        WebSocketHandshake.WriteSwitchingProtocols(connection.Output, handshake.AcceptValue,
            selectSubprotocol ? SubscriberTokenSources.Subprotocol : default, deflate?.ToResponseHeader());
        // Not cancelled by a server stop: the 101 is committed either way (the transport sends unflushed output when it
        // completes), so a stop here must still run the WebSocket, which then closes 1001 (it sees StopRequested).
        await connection.Output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        if (!await connection.CompleteOutputAsync().ConfigureAwait(false))
        {
            return null;
        }

        if (echo)
        {
            settings = settings with { ReaderLimits = settings.ReaderLimits with { AcceptBinary = true } };
        }
        var webSocket = new WebSocketConnection(connection, settings, _logger)
        {
            TokenExpiresAt = closeAt,
            KeepaliveChannelId = !echo && WantsKeepalive(request.Query) ? channelId : null,
        };
        AcceptedForTests?.Invoke(webSocket);
        // Everything the connection needs from the request is copied out now: the head dies with the HTTP connection.
        var kind = echo ? AcceptedWebSocket.Kind.Echo : multiplexed ? AcceptedWebSocket.Kind.Multiplexed : AcceptedWebSocket.Kind.Channel;
        return new AcceptedWebSocket(this, webSocket, kind, channelId, after, epoch, subject, options.WebSocket.MaxSubscriptions);
    }

    /// <summary>
    /// The settings every uncompressed connection accepted under <paramref name="options"/> shares (one object, not
    /// a copy per connection: a hub holds thousands). A reload publishes a new options object, so the next handshake
    /// builds new settings; connections already open keep theirs, as before.
    /// </summary>
    private WebSocketSettings SettingsFor(EmitHubOptions options)
    {
        var cached = Volatile.Read(ref _settings);
        if (cached is null || !ReferenceEquals(cached.Options, options))
        {
            cached = new SettingsSnapshot(options, WebSocketSettings.FromOptions(options, Counters, PartialMessages));
            Volatile.Write(ref _settings, cached);
        }
        return cached.Settings;
    }

    private sealed record SettingsSnapshot(EmitHubOptions Options, WebSocketSettings Settings);

    private SettingsSnapshot? _settings;

    /// <summary>Runs an accepted WebSocket until it ends (the upgraded half of <see cref="AcceptAsync"/>).</summary>
    internal Task RunAsync(AcceptedWebSocket accepted, CancellationToken cancellationToken)
    {
        var webSocket = accepted.WebSocket;
        if (accepted.Mode == AcceptedWebSocket.Kind.Multiplexed)
        {
            return RunMultiplexedAsync(webSocket, accepted.MaxSubscriptions, cancellationToken);
        }
        // Not awaited here: this method would be one more state machine parked for the connection's whole life. The
        // connection counts its own open and close (WebSocketSettings.Counters).
        return webSocket.RunAsync(
            accepted.Mode == AcceptedWebSocket.Kind.Echo ? null : ws => JoinAsync(_registry, accepted.ChannelId, ws, accepted.After, accepted.Epoch, accepted.Subject, cancellationToken),
            cancellationToken);
    }

    /// <summary><c>GET /api/v1/ws</c>: one socket, many channels (see <see cref="MultiplexSession"/>).</summary>
    public const string MultiplexPath = "/api/v1/ws";

    private async Task RunMultiplexedAsync(WebSocketConnection webSocket, int maxSubscriptions, CancellationToken cancellationToken)
    {
        await using var session = new MultiplexSession(_registry, _tokens, webSocket.Outbox, maxSubscriptions, cancellationToken);
        webSocket.TextHandler = session.OnText;
        // No channel to join: the connection is open at once and every operation arrives as text.
        await webSocket.RunAsync(static _ => ValueTask.FromResult<Subscription?>(null), cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask RefuseAsync(ConnectionContext connection, int status, string code, string message,
        IReadOnlyList<KeyValuePair<string, string>>? headers = null)
    {
        WebSocketLog.HandshakeRefused(_logger, status, message);
        var response = new HttpResponse();
        response.WriteError(status, code, message);
        foreach (var header in headers ?? [])
        {
            response.AddHeader(header.Key, header.Value);
        }
        ResponseWriter.Write(connection.Output, response, _heartbeat.DateFieldLine, close: true, http10KeepAlive: false, omitBody: false);
        connection.TrySetCloseReason(ConnectionCloseReason.RequestRejected);
        await connection.Output.FlushAsync().ConfigureAwait(false);
    }

    private static string HandshakeCode(int status) => status switch
    {
        405 => "method_not_allowed",
        426 => "upgrade_required",
        _ => "bad_handshake",
    };

    /// <summary>Parses <c>/api/v1/channels/{id}/ws</c>.</summary>
    internal static bool TryGetChannelId(string path, out Guid id)
    {
        const string prefix = "/api/v1/channels/";
        const string suffix = "/ws";
        id = Guid.Empty;
        return path.StartsWith(prefix, StringComparison.Ordinal) && path.EndsWith(suffix, StringComparison.Ordinal) &&
               path.Length > prefix.Length + suffix.Length &&
               Guid.TryParse(path.AsSpan(prefix.Length, path.Length - prefix.Length - suffix.Length), out id);
    }

    private static string Segment(string path)
    {
        var parts = path.Split('/');
        return parts.Length > 4 ? parts[4] : path;
    }

    /// <summary>True for <c>keepalive=1</c> (or <c>true</c>) in the query: visible keepalive envelopes (emithub.js).</summary>
    internal static bool WantsKeepalive(string query)
    {
        foreach (var (key, value) in HttpQuery.Pairs(query))
        {
            if (key == "keepalive" && value is "1" or "true")
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Subscribes <paramref name="subscriber"/> to the channel (replay from <paramref name="after"/>, then live);
    /// the subscription's client messages carry <paramref name="sender"/> (the token's <c>sub</c>) when given. Null when
    /// denied. The join of a WebSocket, an SSE stream and a multiplexed subscription.</summary>
    internal static async ValueTask<Subscription?> JoinAsync(ChannelRegistry registry, Guid channelId, IChannelSubscriber subscriber,
        long? after, string? epoch, string? sender, CancellationToken cancellationToken)
    {
        var subscription = (await registry.SubscribeAsync(channelId, subscriber, after, epoch, cancellationToken).ConfigureAwait(false)).Subscription;
        if (subscription is not null && sender is not null)
        {
            subscription.Sender = sender;
        }
        return subscription;
    }

    /// <summary>Reads <c>after</c> (a sequence, 0 or more) and <c>epoch</c> from the query; other keys are ignored.</summary>
    internal static bool TryParseQuery(string query, out long? after, out string? epoch, out string? error)
    {
        after = null;
        epoch = null;
        error = null;
        foreach (var (key, value) in HttpQuery.Pairs(query))
        {
            if (key == "after")
            {
                if (!HttpQuery.TryParseSequence(value, out var sequence))
                {
                    error = $"Query 'after' must be a sequence number (0 or more digits only); got '{value}'.";
                    return false;
                }
                after = sequence;
            }
            else if (key == "epoch")
            {
                epoch = value;
            }
        }
        return true;
    }
}
