using System.Text;
using EmitHub.Core.Configuration;

namespace EmitHub.Net.WebSockets;

/// <summary>What <see cref="WebSocketProtocolReader.TryRead"/> produced.</summary>
public enum WebSocketEventKind : byte
{
    /// <summary>Nothing (default value).</summary>
    None = 0,

    /// <summary>A complete text message; <see cref="WebSocketReadEvent.Payload"/> is its valid UTF-8, unmasked.</summary>
    Text,

    /// <summary>A complete binary message (only when <see cref="WebSocketReaderLimits.AcceptBinary"/> is set: the
    /// echo endpoint); channels refuse binary with 1003.</summary>
    Binary,

    /// <summary>A ping; answer with a pong carrying <see cref="WebSocketReadEvent.Payload"/> (see <see cref="PendingPong"/>).</summary>
    Ping,

    /// <summary>A pong (to our keepalive ping, or unsolicited); <see cref="WebSocketReadEvent.Payload"/> is its payload.</summary>
    Pong,

    /// <summary>The peer's close frame: <see cref="WebSocketReadEvent.CloseCode"/> (1005 when the payload was empty) and the UTF-8 reason in <see cref="WebSocketReadEvent.Payload"/>. Echo the code and close the TCP connection.</summary>
    Close,

    /// <summary>The peer broke RFC 6455 or a limit: send a close frame with <see cref="WebSocketReadEvent.CloseCode"/> and <see cref="WebSocketReadEvent.ErrorReason"/>, then close.</summary>
    ProtocolError,
}

/// <summary>
/// One event from the sans-I/O reader. <see cref="Payload"/> points into the reader's buffers and stays valid only
/// until the next call to <see cref="WebSocketProtocolReader.TryRead"/> or <see cref="WebSocketProtocolReader.Dispose"/>:
/// copy or consume it before reading on.
/// </summary>
public readonly struct WebSocketReadEvent
{
    internal WebSocketReadEvent(WebSocketEventKind kind, ReadOnlyMemory<byte> payload, ushort closeCode, WebSocketProtocolError error)
    {
        Kind = kind;
        Payload = payload;
        CloseCode = closeCode;
        Error = error;
    }

    /// <summary>What happened.</summary>
    public WebSocketEventKind Kind { get; }

    /// <summary>Text message bytes, ping/pong payload, or close reason bytes (UTF-8, validated).</summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary><see cref="WebSocketEventKind.Close"/>: the peer's close code (1005 = none given).
    /// <see cref="WebSocketEventKind.ProtocolError"/>: the code the server must send (1002, 1003, 1007, 1009).</summary>
    public ushort CloseCode { get; }

    /// <summary>Why the connection failed, for <see cref="WebSocketEventKind.ProtocolError"/>.</summary>
    public WebSocketProtocolError Error { get; }

    /// <summary>The close reason sentence for <see cref="Error"/> (from the one table in <see cref="WebSocketProtocolErrors"/>).</summary>
    public string ErrorReason => WebSocketProtocolErrors.GetReason(Error);

    /// <summary>The peer's close reason decoded (allocates; close happens once per connection).</summary>
    public string GetCloseReason() => Encoding.UTF8.GetString(Payload.Span);
}

/// <summary>
/// Limits the reader enforces from frame headers before reading payloads (SPEC §3, §4).
/// </summary>
/// <param name="MaxMessageSize">Bytes of one message's payload (<c>message_size_limit</c>); over it → 1009.</param>
/// <param name="MaxContinuationSize">Payload bytes of one fragmented message (<c>max_continuation_size</c>); over it → 1009.</param>
/// <param name="RequireMaskedFrames">True for a server reading client frames (RFC 6455 §5.1); false only to read server frames in tests.</param>
/// <param name="AcceptBinary">True to deliver binary messages (the <c>echo_path</c> endpoint, so conformance suites
/// test binary framing too); false refuses them with 1003 (channels, SPEC §3).</param>
/// <param name="PerMessageDeflate">permessage-deflate was negotiated (RFC 7692): RSV1 on the first frame of a data
/// message marks it compressed; it is inflated, held to <paramref name="MaxMessageSize"/>, before it is delivered.</param>
/// <param name="ClientNoContextTakeover">With <paramref name="PerMessageDeflate"/>: the agreed
/// <c>client_no_context_takeover</c>, so each message is inflated with a fresh context.</param>
/// <param name="MaxFragments">Frames of one fragmented message (<c>max_message_fragments</c>); past it → 1009, so
/// endless empty fragments are refused while sizes stay exact payload bytes.</param>
public readonly record struct WebSocketReaderLimits(long MaxMessageSize, long MaxContinuationSize, bool RequireMaskedFrames = true, bool AcceptBinary = false,
    bool PerMessageDeflate = false, bool ClientNoContextTakeover = false, long MaxFragments = WebSocketReaderLimits.DefaultMaxFragments)
{
    /// <summary>Default <see cref="MaxFragments"/>: 65,536, the count the former rule ("each fragment counts at least
    /// 16 bytes" of a 1 MiB budget) allowed, so every split legal before stays legal; each fragment costs a header
    /// parse, and a bound on the count bounds that work for a message that never ends.</summary>
    public const long DefaultMaxFragments = 65_536;

    /// <summary>Limits from the configuration: <c>message_size_limit</c>, <c>[websocket] max_continuation_size</c>
    /// (defaulting to the former) and <c>[websocket] max_message_fragments</c>.</summary>
    public static WebSocketReaderLimits FromOptions(EmitHubOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new(options.MessageSizeLimit, options.WebSocket.MaxContinuationSize ?? options.MessageSizeLimit,
            MaxFragments: options.WebSocket.MaxMessageFragments);
    }
}
