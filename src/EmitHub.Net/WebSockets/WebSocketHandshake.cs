using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace EmitHub.Net.WebSockets;

/// <summary>Why an opening handshake was refused (RFC 6455 §4.2.1, SPEC §3, §4, §6).</summary>
public enum WebSocketHandshakeRejection : byte
{
    /// <summary>Accepted.</summary>
    None = 0,

    /// <summary>Method other than GET → 405 with <c>Allow: GET</c>.</summary>
    MethodNotAllowed,

    /// <summary>A GET without <c>Upgrade: websocket</c> → 426 with <c>Upgrade: websocket</c>.</summary>
    UpgradeRequired,

    /// <summary>An upgrade over HTTP/1.0 (RFC 6455 §4.1 requires HTTP/1.1 or higher) → 400.</summary>
    HttpVersionTooLow,

    /// <summary><c>Connection</c> lacks the <c>upgrade</c> token → 400.</summary>
    MissingConnectionUpgrade,

    /// <summary><c>Sec-WebSocket-Version</c> absent or not 13 → 426 with <c>Sec-WebSocket-Version: 13</c>.</summary>
    UnsupportedVersion,

    /// <summary><c>Sec-WebSocket-Key</c> absent or not 24 base64 characters decoding to 16 bytes → 400.</summary>
    InvalidKey,
}

/// <summary>
/// The outcome of <see cref="WebSocketHandshake.Validate"/>: either <see cref="IsAccepted"/> with the
/// <see cref="AcceptValue"/> for <c>Sec-WebSocket-Accept</c>, or a rejection with its HTTP status, reason sentence
/// and the extra response header fields it needs (<see cref="ExtraHeaders"/>).
/// </summary>
public readonly struct WebSocketHandshakeResult
{
    internal WebSocketHandshakeResult(WebSocketHandshakeRejection rejection, string? acceptValue)
    {
        Rejection = rejection;
        AcceptValue = acceptValue;
    }

    /// <summary>True when the upgrade may proceed (send <see cref="WebSocketHandshake.WriteSwitchingProtocols"/>).</summary>
    public bool IsAccepted => Rejection == WebSocketHandshakeRejection.None;

    /// <summary>Why the handshake was refused, or <see cref="WebSocketHandshakeRejection.None"/>.</summary>
    public WebSocketHandshakeRejection Rejection { get; }

    /// <summary>The <c>Sec-WebSocket-Accept</c> value (28 base64 characters) when accepted.</summary>
    public string? AcceptValue { get; }

    /// <summary>HTTP status: 101 when accepted, else 400, 405 or 426.</summary>
    public int StatusCode => WebSocketHandshake.GetStatusCode(Rejection);

    /// <summary>Sentence for the response body of a rejection (empty when accepted).</summary>
    public string Reason => WebSocketHandshake.GetReason(Rejection);

    /// <summary>Response header fields a rejection needs (<c>Allow</c> on 405; <c>Upgrade</c> on every 426, RFC 9110
    /// §15.5.22, plus <c>Sec-WebSocket-Version</c> on a version mismatch, RFC 6455 §4.4); empty otherwise.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ExtraHeaders => WebSocketHandshake.GetExtraHeaders(Rejection);
}

/// <summary>
/// The server side of the opening handshake (RFC 6455 §4.2) as pure functions: the HTTP layer passes the request's
/// method, version and field values (repeated fields joined with ", " as RFC 9110 §5.3 allows; a repeated
/// <c>Sec-WebSocket-Key</c> should be passed as the joined value, which then fails the 24-character check) and
/// writes what comes back. Route (404) and Origin (403) checks happen before, in the HTTP layer.
/// </summary>
public static class WebSocketHandshake
{
    /// <summary>The GUID appended to the key before hashing (RFC 6455 §1.3).</summary>
    public const string KeyGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>The only protocol version spoken (RFC 6455 §4.1).</summary>
    public const string SupportedVersion = "13";

    private static readonly KeyValuePair<string, string> s_upgradeWebSocket = new("Upgrade", "websocket");

    private static readonly (int Status, string Reason, KeyValuePair<string, string>[] Headers)[] s_table =
    [
        (101, "", []),
        (405, "Only GET can open a WebSocket.", [new("Allow", "GET")]),
        (426, "This endpoint needs a WebSocket upgrade (Upgrade: websocket).", [s_upgradeWebSocket]),
        (400, "A WebSocket upgrade needs HTTP/1.1.", []),
        (400, "The Connection header must contain the Upgrade token.", []),
        (426, "Only Sec-WebSocket-Version 13 is supported.", [s_upgradeWebSocket, new("Sec-WebSocket-Version", SupportedVersion)]),
        (400, "Sec-WebSocket-Key must be the base64 encoding of 16 bytes.", []),
    ];

    /// <summary>
    /// Validates an upgrade request in this order: method (405), <c>Upgrade: websocket</c> (426), HTTP version ≥ 1.1
    /// (400), <c>Connection: upgrade</c> (400), <c>Sec-WebSocket-Version: 13</c> (426), <c>Sec-WebSocket-Key</c> (400).
    /// Token lists in <c>Upgrade</c> and <c>Connection</c> are comma-separated and case-insensitive. Absent fields are
    /// null. On success the result carries the <c>Sec-WebSocket-Accept</c> value.
    /// </summary>
    public static WebSocketHandshakeResult Validate(
        string method, Version httpVersion, string? upgrade, string? connection, string? secWebSocketVersion, string? secWebSocketKey)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(httpVersion);

        if (!string.Equals(method, "GET", StringComparison.Ordinal))
        {
            return Reject(WebSocketHandshakeRejection.MethodNotAllowed);
        }
        if (!ContainsToken(upgrade, "websocket"))
        {
            return Reject(WebSocketHandshakeRejection.UpgradeRequired);
        }
        if (httpVersion < new Version(1, 1))
        {
            return Reject(WebSocketHandshakeRejection.HttpVersionTooLow);
        }
        if (!ContainsToken(connection, "upgrade"))
        {
            return Reject(WebSocketHandshakeRejection.MissingConnectionUpgrade);
        }
        if (secWebSocketVersion is null || !secWebSocketVersion.AsSpan().Trim(" \t").SequenceEqual(SupportedVersion))
        {
            return Reject(WebSocketHandshakeRejection.UnsupportedVersion);
        }

        var key = secWebSocketKey.AsSpan().Trim(" \t");
        if (secWebSocketKey is null || !IsValidKey(key))
        {
            return Reject(WebSocketHandshakeRejection.InvalidKey);
        }

        Span<byte> accept = stackalloc byte[28];
        ComputeAccept(key, accept);
        return new WebSocketHandshakeResult(WebSocketHandshakeRejection.None, Encoding.ASCII.GetString(accept));
    }

    /// <summary>True when <paramref name="key"/> is exactly 24 base64 characters that decode to 16 bytes (RFC 6455 §4.1).</summary>
    public static bool IsValidKey(ReadOnlySpan<char> key)
    {
        if (key.Length != 24)
        {
            return false;
        }
        foreach (var c in key)
        {
            // Convert.TryFromBase64Chars skips whitespace; the key has none.
            if (c is ' ' or '\t' or '\r' or '\n')
            {
                return false;
            }
        }
        Span<byte> decoded = stackalloc byte[18];
        return Convert.TryFromBase64Chars(key, decoded, out var written) && written == 16;
    }

    /// <summary>
    /// Writes the <c>Sec-WebSocket-Accept</c> value for <paramref name="key"/>: base64(SHA-1(key + GUID)) as 28 ASCII
    /// bytes into <paramref name="destination"/> (RFC 6455 §4.2.2 item 5.4). Allocation-free.
    /// </summary>
    public static void ComputeAccept(ReadOnlySpan<char> key, Span<byte> destination)
    {
        if (destination.Length < 28)
        {
            throw new ArgumentException("The accept value is 28 bytes.", nameof(destination));
        }
        var inputLength = Encoding.ASCII.GetByteCount(key) + KeyGuid.Length;
        Span<byte> input = inputLength <= 256 ? stackalloc byte[inputLength] : new byte[inputLength];
        var written = Encoding.ASCII.GetBytes(key, input);
        Encoding.ASCII.GetBytes(KeyGuid, input[written..]);
        Span<byte> hash = stackalloc byte[SHA1.HashSizeInBytes];
        SHA1.HashData(input, hash);
        Base64.EncodeToUtf8(hash, destination, out _, out _);
    }

    /// <summary>The <c>Sec-WebSocket-Accept</c> value for <paramref name="key"/> as a string.</summary>
    public static string ComputeAccept(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        Span<byte> accept = stackalloc byte[28];
        ComputeAccept(key, accept);
        return Encoding.ASCII.GetString(accept);
    }

    /// <summary>
    /// Writes the complete 101 response head: status line, <c>Upgrade: websocket</c>, <c>Connection: Upgrade</c>,
    /// <c>Sec-WebSocket-Accept</c>, <c>Sec-WebSocket-Protocol</c> when <paramref name="subprotocol"/> is not empty
    /// (it must be one of the values the client offered, RFC 6455 §4.2.2 item 5.4), <c>Sec-WebSocket-Extensions</c>
    /// when <paramref name="extensions"/> is not empty (the agreed permessage-deflate parameters, RFC 7692 §5), and
    /// the empty line.
    /// </summary>
    public static int WriteSwitchingProtocols(IBufferWriter<byte> writer, ReadOnlySpan<char> acceptValue, ReadOnlySpan<char> subprotocol = default,
        ReadOnlySpan<char> extensions = default)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ReadOnlySpan<byte> head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "u8;
        ReadOnlySpan<byte> protocol = "\r\nSec-WebSocket-Protocol: "u8;
        ReadOnlySpan<byte> extensionsName = "\r\nSec-WebSocket-Extensions: "u8;
        ReadOnlySpan<byte> tail = "\r\n\r\n"u8;
        var length = head.Length + acceptValue.Length + tail.Length + (subprotocol.IsEmpty ? 0 : protocol.Length + subprotocol.Length)
            + (extensions.IsEmpty ? 0 : extensionsName.Length + extensions.Length);
        var span = writer.GetSpan(length);
        head.CopyTo(span);
        var written = head.Length;
        written += Encoding.ASCII.GetBytes(acceptValue, span[written..]);
        if (!subprotocol.IsEmpty)
        {
            protocol.CopyTo(span[written..]);
            written += protocol.Length;
            written += Encoding.ASCII.GetBytes(subprotocol, span[written..]);
        }
        if (!extensions.IsEmpty)
        {
            extensionsName.CopyTo(span[written..]);
            written += extensionsName.Length;
            written += Encoding.ASCII.GetBytes(extensions, span[written..]);
        }
        tail.CopyTo(span[written..]);
        written += tail.Length;
        writer.Advance(written);
        return written;
    }

    /// <summary>True when the comma-separated list <paramref name="fieldValue"/> holds <paramref name="token"/> (ASCII case-insensitive, OWS trimmed).</summary>
    public static bool ContainsToken(string? fieldValue, string token)
    {
        if (fieldValue is null)
        {
            return false;
        }
        foreach (var range in fieldValue.AsSpan().Split(','))
        {
            if (fieldValue.AsSpan()[range].Trim(" \t").Equals(token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    internal static int GetStatusCode(WebSocketHandshakeRejection rejection) => s_table[(int)rejection].Status;

    internal static string GetReason(WebSocketHandshakeRejection rejection) => s_table[(int)rejection].Reason;

    internal static IReadOnlyList<KeyValuePair<string, string>> GetExtraHeaders(WebSocketHandshakeRejection rejection) =>
        s_table[(int)rejection].Headers;

    private static WebSocketHandshakeResult Reject(WebSocketHandshakeRejection rejection) => new(rejection, null);
}
