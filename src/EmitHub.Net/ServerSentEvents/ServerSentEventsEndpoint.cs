using System.Buffers;
using System.Text;
using EmitHub.Core.Channels;
using EmitHub.Core.Configuration;
using EmitHub.Net.Auth;
using EmitHub.Net.Http;
using EmitHub.Net.Routing;
using EmitHub.Net.Transport;
using EmitHub.Net.WebSockets;
using Microsoft.Extensions.Logging;

namespace EmitHub.Net.ServerSentEvents;

/// <summary>
/// <c>GET /api/v1/channels/{id}/events</c>: the channel as a Server-Sent Events stream (<c>text/event-stream</c>) for
/// <c>curl -N</c>, <c>EventSource</c> and networks that break WebSockets. Same envelopes, same join (connected, replay,
/// live, no gap or duplicate), same limits, slow-consumer policy, Origin allow-list and private-channel tokens as the
/// WebSocket. The position to resume from is the <c>Last-Event-ID</c> header (what EventSource sends when it
/// reconnects), else <c>?after=SEQ</c>; <c>?epoch=</c> and <c>?token=</c> as on the WebSocket (or
/// <c>Authorization: Bearer &lt;token&gt;</c>). Refusals are ordinary HTTP errors with the error shape: 400 (bad
/// position), 401/403 (token), 403 (Origin), 404 (unknown channel), 406 (an <c>Accept</c> that excludes
/// <c>text/event-stream</c>). The response has no length; it ends when the connection closes (RFC 9112 §6.3).
/// </summary>
public sealed class ServerSentEventsEndpoint : IWebSocketUpgrade
{
    /// <summary>The media type of the stream.</summary>
    public const string MediaType = "text/event-stream";

    private readonly LiveOptions _options;
    private readonly ChannelRegistry _registry;
    private readonly Heartbeat _heartbeat;
    private readonly ISubscriberTokenValidator _tokens;
    private readonly ILogger _logger;

    /// <summary>Creates the endpoint; <paramref name="tokens"/> is the same validator the WebSocket endpoint asks.</summary>
    public ServerSentEventsEndpoint(LiveOptions options, ChannelRegistry registry, Heartbeat heartbeat, ISubscriberTokenValidator tokens, ILoggerFactory loggerFactory)
    {
        _options = options;
        _registry = registry;
        _heartbeat = heartbeat;
        _tokens = tokens;
        _logger = loggerFactory.CreateLogger("EmitHub.ServerSentEvents");
    }

    /// <inheritdoc />
    public async ValueTask<IUpgradedConnection?> AcceptAsync(HttpRequestHead request, ConnectionContext connection, CancellationToken cancellationToken)
    {
        var options = _options.Current;
        var origin = request.GetField("Origin");
        var cors = CorsPolicy.Evaluate(options.Cors, origin);
        if (!AcceptsEventStream(request.GetCombinedField("Accept")))
        {
            await RefuseAsync(connection, cors, 406, "not_acceptable",
                $"This path streams '{MediaType}'; the request's Accept header does not allow it.").ConfigureAwait(false);
            return null;
        }
        if (origin is not null && cors.AllowOrigin is null)
        {
            await RefuseAsync(connection, cors, 403, "origin_not_allowed",
                $"Origin '{origin}' is not in [cors] allowed_origins; event streams to it are refused.").ConfigureAwait(false);
            return null;
        }
        if (!TryGetChannelId(request.Path, out var channelId) || _registry.Get(channelId) is not { } channel)
        {
            await RefuseAsync(connection, cors, 404, "channel_not_found", "The channel does not exist.").ConfigureAwait(false);
            return null;
        }
        if (!WebSocketEndpoint.TryParseQuery(request.Query, out var after, out var epoch, out var queryError))
        {
            await RefuseAsync(connection, cors, 400, "invalid_query", queryError!).ConfigureAwait(false);
            return null;
        }
        if (request.GetField("Last-Event-ID") is { } lastEventId)
        {
            // EventSource resends the id of the last event it saw: that is newer than the URL's ?after=.
            if (!HttpQuery.TryParseSequence(lastEventId.Trim(), out var sequence))
            {
                await RefuseAsync(connection, cors, 400, "invalid_last_event_id",
                    $"Last-Event-ID must be a sequence number (digits only), as sent in the stream's id: lines; got '{lastEventId}'.").ConfigureAwait(false);
                return null;
            }
            after = sequence;
        }

        var token = SubscriberTokenSources.Find(null, request.Query, out _) ?? BearerToken(request.GetField("Authorization"));
        var access = await _tokens.AuthorizeAsync(channel, token).ConfigureAwait(false);
        if (!access.IsAllowed)
        {
            await RefuseAsync(connection, cors, access.StatusCode, access.Code!, access.Error!, access.WwwAuthenticate).ConfigureAwait(false);
            return null;
        }

        WriteResponseHead(connection, cors);
        await connection.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (request.Method == "HEAD" || !await connection.CompleteOutputAsync().ConfigureAwait(false))
        {
            return null;
        }

        var stream = new ServerSentEventsConnection(connection, options.WebSocket.MaxPendingBytes,
            TimeSpan.FromSeconds(options.WebSocket.PingInterval), _logger)
        {
            TokenExpiresAt = access.ExpiresAt + TimeSpan.FromSeconds(options.Auth.ClockSkew),
        };
        // What the stream needs from the request is copied out now: the head dies with the HTTP connection.
        return new AcceptedEventStream(_registry, stream, channelId, after, epoch, access.Subject);
    }

    private void WriteResponseHead(ConnectionContext connection, CorsDecision cors)
    {
        var sb = new StringBuilder("HTTP/1.1 200 OK\r\n");
        sb.Append(Encoding.ASCII.GetString(_heartbeat.DateFieldLine));
        sb.Append("Server: emit-hub\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-store\r\n");
        // Proxies such as nginx buffer responses unless told not to; events must pass at once.
        sb.Append("X-Accel-Buffering: no\r\nConnection: close\r\n");
        if (cors.AllowOrigin is { } allowOrigin)
        {
            sb.Append("Access-Control-Allow-Origin: ").Append(allowOrigin).Append("\r\n");
        }
        if (cors.VaryByOrigin)
        {
            sb.Append("Vary: Origin\r\n");
        }
        sb.Append("\r\n");
        connection.Output.Write(Encoding.ASCII.GetBytes(sb.ToString()));
    }

    private async ValueTask RefuseAsync(ConnectionContext connection, CorsDecision cors, int status, string code, string message, string? wwwAuthenticate = null)
    {
        ServerSentEventsLog.Refused(_logger, status, message);
        var response = new HttpResponse();
        response.WriteError(status, code, message);
        if (wwwAuthenticate is not null)
        {
            response.AddHeader("WWW-Authenticate", wwwAuthenticate);
        }
        CorsPolicy.Apply(response, cors);
        ResponseWriter.Write(connection.Output, response, _heartbeat.DateFieldLine, close: true, http10KeepAlive: false, omitBody: false);
        connection.TrySetCloseReason(ConnectionCloseReason.RequestRejected);
        await connection.Output.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>True when <paramref name="accept"/> is absent or allows <c>text/event-stream</c> (itself, <c>text/*</c>
    /// or <c>*/*</c>, with a q-value above 0; RFC 9110 §12.5.1).</summary>
    internal static bool AcceptsEventStream(string? accept)
    {
        if (string.IsNullOrWhiteSpace(accept))
        {
            return true;
        }
        foreach (var element in accept.Split(','))
        {
            var parts = element.Split(';');
            var range = parts[0].Trim();
            if (!(range.Equals(MediaType, StringComparison.OrdinalIgnoreCase) || range == "*/*" || range.Equals("text/*", StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }
            var refused = parts.Skip(1).Select(p => p.Trim()).Any(p =>
                p.StartsWith("q=", StringComparison.OrdinalIgnoreCase) && double.TryParse(p.AsSpan(2), System.Globalization.CultureInfo.InvariantCulture, out var q) && q <= 0);
            if (!refused)
            {
                return true;
            }
        }
        return false;
    }

    private static string? BearerToken(string? authorization) =>
        authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization[7..].Trim() : null;

    /// <summary>Parses <c>/api/v1/channels/{id}/events</c>.</summary>
    internal static bool TryGetChannelId(string path, out Guid id)
    {
        const string prefix = "/api/v1/channels/";
        const string suffix = "/events";
        id = Guid.Empty;
        return path.StartsWith(prefix, StringComparison.Ordinal) && path.EndsWith(suffix, StringComparison.Ordinal) &&
               path.Length > prefix.Length + suffix.Length &&
               Guid.TryParse(path.AsSpan(prefix.Length, path.Length - prefix.Length - suffix.Length), out id);
    }
}
