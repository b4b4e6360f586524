namespace EmitHub.Net.Http;

/// <summary>HTTP version of a request line (RFC 9112 §2.3). Only these two are accepted; others are 505.</summary>
public enum HttpVersion
{
    /// <summary>HTTP/1.0: keep-alive only when asked for with <c>Connection: keep-alive</c>.</summary>
    Http10,
    /// <summary>HTTP/1.1: persistent unless <c>Connection: close</c>.</summary>
    Http11,
}

/// <summary>One field line of a request (RFC 9112 §5): name as sent, value without surrounding whitespace.
/// Bytes above 0x7F are decoded as Latin-1 (obs-text).</summary>
public readonly record struct HttpField(string Name, string Value);

/// <summary>
/// A parsed request line and field section (RFC 9112 §3, §5), with the framing decided by
/// <see cref="HttpParser"/>: body length or chunked, persistence, and upgrade intent. Reused per connection.
/// </summary>
public sealed class HttpRequestHead
{
    private readonly List<HttpField> _fields = new();

    /// <summary>Method token, e.g. <c>GET</c> (case-sensitive, RFC 9110 §9.1).</summary>
    public string Method { get; internal set; } = "";

    /// <summary>Request target as sent (origin-form, absolute-form or <c>*</c>).</summary>
    public string Target { get; internal set; } = "";

    /// <summary>Absolute path of the target without the query, e.g. <c>/api/v1/channels</c>; <c>*</c> for asterisk-form.</summary>
    public string Path { get; internal set; } = "";

    /// <summary>Query after <c>?</c> without the <c>?</c>, or empty.</summary>
    public string Query { get; internal set; } = "";

    /// <summary>Protocol version.</summary>
    public HttpVersion Version { get; internal set; }

    /// <summary>Field lines in order of arrival.</summary>
    public IReadOnlyList<HttpField> Fields => _fields;

    /// <summary>Declared body length; null when there is no Content-Length (0 body unless <see cref="IsChunked"/>).</summary>
    public long? ContentLength { get; internal set; }

    /// <summary>True when the body uses the chunked transfer coding (RFC 9112 §7.1).</summary>
    public bool IsChunked { get; internal set; }

    /// <summary>True when the connection may carry another request after this one (RFC 9112 §9.3).</summary>
    public bool KeepAlive { get; internal set; }

    /// <summary>True when <c>Upgrade</c> lists the <c>websocket</c> token (case-insensitive).</summary>
    public bool UpgradeWebSocket { get; internal set; }

    /// <summary>True when <c>Connection</c> lists the <c>upgrade</c> token (case-insensitive).</summary>
    public bool ConnectionUpgrade { get; internal set; }

    /// <summary>True when the request has a body to read (Content-Length &gt; 0 or chunked).</summary>
    public bool HasBody => IsChunked || ContentLength > 0;

    /// <summary>Value of the first field named <paramref name="name"/> (case-insensitive), or null.</summary>
    public string? GetField(string name)
    {
        foreach (var field in _fields)
        {
            if (string.Equals(field.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return field.Value;
            }
        }
        return null;
    }

    /// <summary>
    /// Every field line named <paramref name="name"/> combined into one comma-separated value (RFC 9110 §5.3), or
    /// null. A field that must appear once (<c>Sec-WebSocket-Key</c>) then fails its own syntax when repeated.
    /// </summary>
    public string? GetCombinedField(string name)
    {
        string? combined = null;
        foreach (var field in _fields)
        {
            if (string.Equals(field.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                combined = combined is null ? field.Value : combined + ", " + field.Value;
            }
        }
        return combined;
    }

    internal void AddField(string name, string value) => _fields.Add(new HttpField(name, value));

    internal void Reset()
    {
        _fields.Clear();
        Method = Target = Path = Query = "";
        ContentLength = null;
        IsChunked = KeepAlive = UpgradeWebSocket = ConnectionUpgrade = false;
    }
}
