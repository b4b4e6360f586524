using System.Buffers;
using System.Buffers.Binary;

namespace EmitHub.Net.WebSockets;

/// <summary>
/// A decoded frame header (RFC 6455 §5.2): FIN, RSV1-3, opcode, MASK, payload length and masking key.
/// Structural only: whether the header is allowed (RSV bits, opcode, masking) is judged by
/// <see cref="WebSocketProtocolReader"/>.
/// </summary>
public readonly struct FrameHeader
{
    /// <summary>The largest header on the wire: 2 + 8 (64-bit length) + 4 (masking key) bytes.</summary>
    public const int MaxLength = 14;

    /// <summary><see cref="Rsv"/> with only RSV1 set: "Per-Message Compressed" under permessage-deflate (RFC 7692 §6).</summary>
    public const byte Rsv1 = 0b100;

    /// <summary>Creates a header; used by the parser and by tests.</summary>
    public FrameHeader(bool fin, byte rsv, WebSocketOpcode opcode, bool masked, long payloadLength, uint maskingKey, int headerLength)
    {
        Fin = fin;
        Rsv = rsv;
        Opcode = opcode;
        Masked = masked;
        PayloadLength = payloadLength;
        MaskingKey = maskingKey;
        HeaderLength = headerLength;
    }

    /// <summary>FIN bit: this is the final fragment of a message.</summary>
    public bool Fin { get; }

    /// <summary>RSV1-RSV3 as the three bits <c>0b0RRR</c> (RSV1 = 4, RSV2 = 2, RSV3 = 1). Non-zero without a negotiated extension is a protocol error.</summary>
    public byte Rsv { get; }

    /// <summary>The raw 4-bit opcode; may be a reserved value (not a named <see cref="WebSocketOpcode"/> member).</summary>
    public WebSocketOpcode Opcode { get; }

    /// <summary>MASK bit: the payload is XOR-masked with <see cref="MaskingKey"/> (RFC 6455 §5.3).</summary>
    public bool Masked { get; }

    /// <summary>Payload length in bytes (0 to 2^63 - 1).</summary>
    public long PayloadLength { get; }

    /// <summary>The 4 masking-key bytes in wire order, read as a little-endian <see cref="uint"/> (byte 0 is the low byte). 0 when not masked.</summary>
    public uint MaskingKey { get; }

    /// <summary>Bytes taken by this header on the wire (2 to 14).</summary>
    public int HeaderLength { get; }

    /// <summary>True for close, ping and pong (opcodes with the high bit set, RFC 6455 §5.5).</summary>
    public bool IsControl => ((byte)Opcode & 0x8) != 0;

    /// <summary>
    /// Parses one frame header from <paramref name="reader"/> (RFC 6455 §5.2). Returns true and advances past the
    /// header when it is complete and well formed. Returns false without consuming anything either when more data is
    /// needed (<paramref name="error"/> = <see cref="WebSocketProtocolError.None"/>) or when the header is malformed:
    /// a 64-bit length with its most significant bit set (<see cref="WebSocketProtocolError.InvalidPayloadLength"/>).
    /// Non-minimal length encodings are accepted, as the RFC only says they "should" be minimal.
    /// </summary>
    public static bool TryReadFrameHeader(ref SequenceReader<byte> reader, out FrameHeader header, out WebSocketProtocolError error)
    {
        var unread = reader.UnreadSpan;
        if (unread.Length >= MaxLength)
        {
            if (!TryParse(unread, out header, out error))
            {
                return false;
            }
            reader.Advance(header.HeaderLength);
            return true;
        }

        // The header straddles segments (or the data ends): parse a copy of what is there, at most 14 bytes.
        Span<byte> bytes = stackalloc byte[MaxLength];
        var available = (int)Math.Min(reader.Remaining, MaxLength);
        reader.TryCopyTo(bytes[..available]);
        if (!TryParse(bytes[..available], out header, out error))
        {
            return false;
        }
        reader.Advance(header.HeaderLength);
        return true;
    }

    /// <summary>
    /// Parses one frame header from the start of <paramref name="source"/>; <see cref="HeaderLength"/> tells how many
    /// bytes it took. Same results as <see cref="TryReadFrameHeader"/>: false with
    /// <see cref="WebSocketProtocolError.None"/> when <paramref name="source"/> holds only part of a header.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> source, out FrameHeader header, out WebSocketProtocolError error)
    {
        header = default;
        error = WebSocketProtocolError.None;
        if (source.Length < 2)
        {
            return false;
        }

        var b0 = source[0];
        var b1 = source[1];
        var masked = (b1 & 0x80) != 0;
        var length7 = b1 & 0x7F;
        var lengthBytes = length7 switch { 126 => 2, 127 => 8, _ => 0 };
        var headerLength = 2 + lengthBytes + (masked ? 4 : 0);
        if (source.Length < headerLength)
        {
            return false;
        }

        long payloadLength = lengthBytes switch
        {
            2 => BinaryPrimitives.ReadUInt16BigEndian(source[2..]),
            8 => (long)BinaryPrimitives.ReadUInt64BigEndian(source[2..]),
            _ => length7,
        };
        if (payloadLength < 0)
        {
            // RFC 6455 §5.2: "the most significant bit MUST be 0".
            error = WebSocketProtocolError.InvalidPayloadLength;
            return false;
        }

        header = new FrameHeader(
            fin: (b0 & 0x80) != 0,
            rsv: (byte)((b0 >> 4) & 0x7),
            opcode: (WebSocketOpcode)(b0 & 0x0F),
            masked: masked,
            payloadLength: payloadLength,
            maskingKey: masked ? BinaryPrimitives.ReadUInt32LittleEndian(source[(2 + lengthBytes)..]) : 0u,
            headerLength: headerLength);
        return true;
    }
}
