using EmitHub.Net.Transport;

namespace EmitHub.Net.Http;

/// <summary>One request as the router sees it: the parsed head, the whole body, the response to fill and the
/// connection it arrived on.</summary>
public sealed class HttpRequestContext
{
    internal HttpRequestContext(HttpRequestHead head, HttpResponse response, ConnectionContext connection)
    {
        Head = head;
        Response = response;
        Connection = connection;
    }

    /// <summary>Request line and field lines.</summary>
    public HttpRequestHead Head { get; }

    /// <summary>The decoded body (Content-Length or chunked), empty when none.</summary>
    public ReadOnlyMemory<byte> Body { get; internal set; }

    /// <summary>The response to fill.</summary>
    public HttpResponse Response { get; }

    /// <summary>The connection the request arrived on.</summary>
    public ConnectionContext Connection { get; }

    /// <summary>Set by the router to hand the connection to an upgraded protocol instead of answering.</summary>
    public IWebSocketUpgrade? UpgradeTo { get; set; }
}

/// <summary>What answers requests (the router). Called once per request, in order on a connection.</summary>
public interface IHttpApplication
{
    /// <summary>Fills <see cref="HttpRequestContext.Response"/> (or sets <see cref="HttpRequestContext.UpgradeTo"/>).</summary>
    ValueTask HandleAsync(HttpRequestContext context, CancellationToken cancellationToken);
}
