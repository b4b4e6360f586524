namespace EmitHub.Net.WebSockets;

/// <summary>
/// Every reason the server fails a WebSocket connection while reading client frames (RFC 6455 §7.1.7, SPEC §3/§4).
/// <see cref="WebSocketProtocolErrors"/> is the one table from a reason to its close code and close reason.
/// </summary>
public enum WebSocketProtocolError : byte
{
    /// <summary>No error.</summary>
    None = 0,

    /// <summary>A 64-bit payload length with its most significant bit set (RFC 6455 §5.2). 1002.</summary>
    InvalidPayloadLength,

    /// <summary>A client frame without the MASK bit (RFC 6455 §5.1). 1002.</summary>
    UnmaskedClientFrame,

    /// <summary>RSV1-3 set while no extension was negotiated (RFC 6455 §5.2). 1002.</summary>
    ReservedBitsSet,

    /// <summary>Opcode 0x3-0x7 or 0xB-0xF (RFC 6455 §5.2). 1002.</summary>
    UnknownOpcode,

    /// <summary>A close, ping or pong frame with FIN = 0 (RFC 6455 §5.5). 1002.</summary>
    FragmentedControlFrame,

    /// <summary>A control frame whose payload is over 125 bytes (RFC 6455 §5.5). 1002.</summary>
    ControlFrameTooLong,

    /// <summary>A continuation frame while no fragmented message is open (RFC 6455 §5.4). 1002.</summary>
    ContinuationWithoutStart,

    /// <summary>A text or binary frame while a fragmented message is still open (RFC 6455 §5.4). 1002.</summary>
    DataFrameInsideFragmentedMessage,

    /// <summary>A close frame whose payload is exactly 1 byte (RFC 6455 §5.5.1). 1002.</summary>
    ClosePayloadTooShort,

    /// <summary>A close code that may not be sent on the wire (&lt; 1000, 1004-1006, 1015, 1016-2999, ≥ 5000; RFC 6455 §7.4). 1002.</summary>
    InvalidCloseCode,

    /// <summary>Text message payload that is not valid UTF-8 (RFC 6455 §8.1), found as soon as the bytes arrive. 1007.</summary>
    InvalidUtf8Text,

    /// <summary>A close reason that is not valid UTF-8 (RFC 6455 §5.5.1). 1007.</summary>
    InvalidUtf8CloseReason,

    /// <summary>Binary data frames: the product only speaks JSON text (SPEC §3). 1003.</summary>
    BinaryMessage,

    /// <summary>A message over <c>message_size_limit</c>, judged from the frame header. 1009.</summary>
    MessageTooBig,

    /// <summary>A fragmented message whose payload bytes are over <c>max_continuation_size</c>, judged from the frame header. 1009.</summary>
    FragmentedMessageTooBig,

    /// <summary>A fragmented message of more than <c>max_message_fragments</c> frames (endless empty fragments). 1009.</summary>
    TooManyFragments,
    /// <summary>RSV1 ("Per-Message Compressed") on a control or continuation frame, or RSV2/RSV3 set, while
    /// permessage-deflate is negotiated (RFC 7692 §6.1). 1002.</summary>
    CompressedBitMisplaced,

    /// <summary>A compressed message whose inflated size passes <c>message_size_limit</c> (a deflate bomb), found
    /// while inflating, before more than the limit is held. 1009.</summary>
    InflatedMessageTooBig,

    /// <summary>A compressed message that is not valid raw DEFLATE (RFC 7692 §7.2.2). 1007.</summary>
    InvalidCompressedData,
}

/// <summary>
/// The one table from <see cref="WebSocketProtocolError"/> to what goes on the wire: the close code
/// (RFC 6455 §7.4.1) and a short close reason (ASCII, well under the 123 bytes a close frame can carry).
/// </summary>
public static class WebSocketProtocolErrors
{
    private static readonly (ushort Code, string Reason)[] s_table = BuildTable();

    /// <summary>Close code sent when failing the connection for <paramref name="error"/>: 1002, 1003, 1007 or 1009.</summary>
    public static ushort GetCloseCode(WebSocketProtocolError error) => s_table[(int)error].Code;

    /// <summary>Close reason sentence for <paramref name="error"/> (ASCII, at most 123 bytes).</summary>
    public static string GetReason(WebSocketProtocolError error) => s_table[(int)error].Reason;

    private static (ushort, string)[] BuildTable()
    {
        var table = new (ushort, string)[(int)WebSocketProtocolError.InvalidCompressedData + 1];
        table[(int)WebSocketProtocolError.None] = (WebSocketCloseCodes.NormalClosure, "");
        table[(int)WebSocketProtocolError.InvalidPayloadLength] = (WebSocketCloseCodes.ProtocolError, "Payload length has its most significant bit set.");
        table[(int)WebSocketProtocolError.UnmaskedClientFrame] = (WebSocketCloseCodes.ProtocolError, "Client frames must be masked.");
        table[(int)WebSocketProtocolError.ReservedBitsSet] = (WebSocketCloseCodes.ProtocolError, "RSV bits are set but no extension was negotiated.");
        table[(int)WebSocketProtocolError.UnknownOpcode] = (WebSocketCloseCodes.ProtocolError, "Unknown opcode.");
        table[(int)WebSocketProtocolError.FragmentedControlFrame] = (WebSocketCloseCodes.ProtocolError, "Control frames must not be fragmented.");
        table[(int)WebSocketProtocolError.ControlFrameTooLong] = (WebSocketCloseCodes.ProtocolError, "Control frame payload is over 125 bytes.");
        table[(int)WebSocketProtocolError.ContinuationWithoutStart] = (WebSocketCloseCodes.ProtocolError, "Continuation frame without a message to continue.");
        table[(int)WebSocketProtocolError.DataFrameInsideFragmentedMessage] = (WebSocketCloseCodes.ProtocolError, "New data frame inside a fragmented message.");
        table[(int)WebSocketProtocolError.ClosePayloadTooShort] = (WebSocketCloseCodes.ProtocolError, "Close frame payload of 1 byte.");
        table[(int)WebSocketProtocolError.InvalidCloseCode] = (WebSocketCloseCodes.ProtocolError, "Invalid close code.");
        table[(int)WebSocketProtocolError.InvalidUtf8Text] = (WebSocketCloseCodes.InvalidPayloadData, "Text message is not valid UTF-8.");
        table[(int)WebSocketProtocolError.InvalidUtf8CloseReason] = (WebSocketCloseCodes.InvalidPayloadData, "Close reason is not valid UTF-8.");
        table[(int)WebSocketProtocolError.BinaryMessage] = (WebSocketCloseCodes.UnsupportedData, "Binary messages are not supported.");
        table[(int)WebSocketProtocolError.MessageTooBig] = (WebSocketCloseCodes.MessageTooBig, "Message is over message_size_limit.");
        table[(int)WebSocketProtocolError.FragmentedMessageTooBig] = (WebSocketCloseCodes.MessageTooBig, "Fragmented message is over max_continuation_size.");
        table[(int)WebSocketProtocolError.TooManyFragments] = (WebSocketCloseCodes.MessageTooBig, "Message has more fragments than max_message_fragments allows.");
        table[(int)WebSocketProtocolError.CompressedBitMisplaced] = (WebSocketCloseCodes.ProtocolError, "RSV1 is allowed only on the first frame of a data message; RSV2 and RSV3 never.");
        table[(int)WebSocketProtocolError.InflatedMessageTooBig] = (WebSocketCloseCodes.MessageTooBig, "Compressed message inflates past message_size_limit.");
        table[(int)WebSocketProtocolError.InvalidCompressedData] = (WebSocketCloseCodes.InvalidPayloadData, "Compressed message is not valid DEFLATE data.");
        return table;
    }
}

/// <summary>Close codes used by the server (RFC 6455 §7.4.1, IANA registry) and the rule for codes a peer may send.</summary>
public static class WebSocketCloseCodes
{
    /// <summary>1000: normal closure.</summary>
    public const ushort NormalClosure = 1000;

    /// <summary>1001: going away (server shutdown, channel stopped, pong timeout).</summary>
    public const ushort GoingAway = 1001;

    /// <summary>1002: protocol error.</summary>
    public const ushort ProtocolError = 1002;

    /// <summary>1003: data of a type the endpoint cannot accept (binary).</summary>
    public const ushort UnsupportedData = 1003;

    /// <summary>1005: no status code was present. Never sent on the wire; an empty close payload.</summary>
    public const ushort NoStatusReceived = 1005;

    /// <summary>1007: payload data not consistent with the message type (invalid UTF-8).</summary>
    public const ushort InvalidPayloadData = 1007;

    /// <summary>1008: policy violation (channel not active, slow consumer).</summary>
    public const ushort PolicyViolation = 1008;

    /// <summary>1009: message too big.</summary>
    public const ushort MessageTooBig = 1009;

    /// <summary>1011: internal error; sent without internal detail.</summary>
    public const ushort InternalError = 1011;

    /// <summary>1013: try again later (channel full).</summary>
    public const ushort TryAgainLater = 1013;

    /// <summary>4001 (private use, RFC 6455 §7.4.2): the subscriber token of a private channel expired while connected;
    /// reconnect with a fresh one.</summary>
    public const ushort TokenExpired = 4001;

    /// <summary>
    /// True when a peer may send <paramref name="code"/> in a close frame: 1000-1003, 1007-1014 (registered),
    /// 3000-4999 (libraries and applications). False for &lt; 1000, 1004, 1005, 1006, 1015, 1016-2999 and ≥ 5000
    /// (RFC 6455 §7.4, SPEC §3).
    /// </summary>
    public static bool IsValidOnWire(int code) => code switch
    {
        >= 1000 and <= 1003 => true,
        >= 1007 and <= 1014 => true,
        >= 3000 and <= 4999 => true,
        _ => false,
    };
}
