using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using EmitHub.Core.Fanout;

namespace EmitHub.Net.WebSockets;

/// <summary>
/// Writes server-to-client frames (RFC 6455 §5.2): unmasked, FIN=1, 7/16/64-bit payload length in its minimal form.
/// Implements <see cref="IFrameEncoder"/> so Core frames each broadcast once; the static helpers write the close,
/// ping and pong control frames the connection sends itself.
/// </summary>
public sealed class WebSocketFrameEncoder : IFrameEncoder
{
    /// <summary>Largest server frame header: 2 bytes + 64-bit length, no masking key.</summary>
    public const int MaxServerHeaderLength = 10;

    /// <summary>Largest control-frame payload (RFC 6455 §5.5).</summary>
    public const int MaxControlPayloadLength = 125;

    /// <summary>Largest close reason in UTF-8 bytes: the 125-byte control payload less the 2-byte close code.</summary>
    public const int MaxCloseReasonLength = MaxControlPayloadLength - 2;

    /// <summary>Largest control frame on the wire (2-byte header + 125-byte payload).</summary>
    public const int MaxControlFrameLength = 2 + MaxControlPayloadLength;

    /// <summary>The shared instance; the encoder holds no state.</summary>
    public static WebSocketFrameEncoder Instance { get; } = new();

    /// <inheritdoc/>
    public int MaxHeaderLength => MaxServerHeaderLength;

    /// <inheritdoc/>
    public int GetTextHeaderLength(long payloadLength) => GetHeaderLength(payloadLength);

    /// <inheritdoc/>
    public void WriteTextHeader(Span<byte> destination, long payloadLength) =>
        WriteHeader(destination, WebSocketOpcode.Text, payloadLength);

    /// <summary>Header length for <paramref name="payloadLength"/> bytes: 2 (≤ 125), 4 (≤ 65,535) or 10.</summary>
    public static int GetHeaderLength(long payloadLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(payloadLength);
        return payloadLength switch
        {
            <= 125 => 2,
            <= ushort.MaxValue => 4,
            _ => 10,
        };
    }

    /// <summary>
    /// Writes a final, unmasked header with <paramref name="opcode"/> into <paramref name="destination"/> and returns
    /// the bytes written (<see cref="GetHeaderLength"/>). Throws when <paramref name="destination"/> is too short.
    /// </summary>
    public static int WriteHeader(Span<byte> destination, WebSocketOpcode opcode, long payloadLength)
    {
        var length = GetHeaderLength(payloadLength);
        if (destination.Length < length)
        {
            throw new ArgumentException("Destination is shorter than the frame header.", nameof(destination));
        }

        destination[0] = (byte)(0x80 | (byte)opcode);
        switch (length)
        {
            case 2:
                destination[1] = (byte)payloadLength;
                break;
            case 4:
                destination[1] = 126;
                BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payloadLength);
                break;
            default:
                destination[1] = 127;
                BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payloadLength);
                break;
        }
        return length;
    }

    /// <summary>Writes a ping frame (RFC 6455 §5.5.2) with up to 125 payload bytes; returns the frame length.</summary>
    public static int WritePing(IBufferWriter<byte> writer, ReadOnlySpan<byte> payload) =>
        WriteControl(writer, WebSocketOpcode.Ping, payload);

    /// <summary>Writes a pong frame (RFC 6455 §5.5.3) echoing <paramref name="payload"/> (≤ 125 bytes); returns the frame length.</summary>
    public static int WritePong(IBufferWriter<byte> writer, ReadOnlySpan<byte> payload) =>
        WriteControl(writer, WebSocketOpcode.Pong, payload);

    /// <summary>
    /// Writes a close frame (RFC 6455 §5.5.1) into <paramref name="destination"/> (at least
    /// <see cref="MaxControlFrameLength"/> bytes is always enough) and returns its length. Code
    /// <see cref="WebSocketCloseCodes.NoStatusReceived"/> (1005) writes an empty payload, as when echoing a close that
    /// carried no code. <paramref name="reason"/> is UTF-8 encoded and cut on a code point boundary to fit 123 bytes.
    /// </summary>
    public static int WriteClose(Span<byte> destination, ushort closeCode, ReadOnlySpan<char> reason)
    {
        if (closeCode == WebSocketCloseCodes.NoStatusReceived)
        {
            return WriteHeader(destination, WebSocketOpcode.Close, 0);
        }

        Span<byte> payload = stackalloc byte[MaxControlPayloadLength];
        BinaryPrimitives.WriteUInt16BigEndian(payload, closeCode);
        var reasonLength = EncodeTruncated(reason, payload[2..]);
        var payloadLength = 2 + reasonLength;
        var header = WriteHeader(destination, WebSocketOpcode.Close, payloadLength);
        payload[..payloadLength].CopyTo(destination[header..]);
        return header + payloadLength;
    }

    /// <summary>Writes a close frame (see <see cref="WriteClose(Span{byte}, ushort, ReadOnlySpan{char})"/>) to <paramref name="writer"/>.</summary>
    public static int WriteClose(IBufferWriter<byte> writer, ushort closeCode, ReadOnlySpan<char> reason)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var written = WriteClose(writer.GetSpan(MaxControlFrameLength), closeCode, reason);
        writer.Advance(written);
        return written;
    }

    /// <summary>Writes a close frame whose reason is already UTF-8 (e.g. echoing the peer's); the reason is cut to 123 bytes.</summary>
    public static int WriteCloseUtf8(IBufferWriter<byte> writer, ushort closeCode, ReadOnlySpan<byte> reasonUtf8)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var destination = writer.GetSpan(MaxControlFrameLength);
        int written;
        if (closeCode == WebSocketCloseCodes.NoStatusReceived)
        {
            written = WriteHeader(destination, WebSocketOpcode.Close, 0);
        }
        else
        {
            var reason = reasonUtf8[..Utf8PrefixLength(reasonUtf8, MaxCloseReasonLength)];
            var header = WriteHeader(destination, WebSocketOpcode.Close, 2 + reason.Length);
            BinaryPrimitives.WriteUInt16BigEndian(destination[header..], closeCode);
            reason.CopyTo(destination[(header + 2)..]);
            written = header + 2 + reason.Length;
        }
        writer.Advance(written);
        return written;
    }

    /// <summary>A close frame as a pooled <see cref="OutboundMessage"/> (refcount 1), to queue behind messages already queued.</summary>
    public static OutboundMessage CreateCloseMessage(ushort closeCode, string reason)
    {
        Span<byte> frame = stackalloc byte[MaxControlFrameLength];
        var length = WriteClose(frame, closeCode, reason);
        return OutboundMessage.Copy(frame[..length]);
    }

    private static int WriteControl(IBufferWriter<byte> writer, WebSocketOpcode opcode, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (payload.Length > MaxControlPayloadLength)
        {
            throw new ArgumentException("Control frame payloads are at most 125 bytes (RFC 6455 §5.5).", nameof(payload));
        }
        var destination = writer.GetSpan(2 + payload.Length);
        var header = WriteHeader(destination, opcode, payload.Length);
        payload.CopyTo(destination[header..]);
        writer.Advance(header + payload.Length);
        return header + payload.Length;
    }

    private static int EncodeTruncated(ReadOnlySpan<char> text, Span<byte> destination)
    {
        // Utf8.FromUtf16 with isFinalBlock stops on a whole code point when the destination is full.
        System.Text.Unicode.Utf8.FromUtf16(text, destination, out _, out var written, replaceInvalidSequences: true, isFinalBlock: true);
        return written;
    }

    // Longest prefix of valid UTF-8 `bytes` that is at most `max` bytes and ends on a code point boundary.
    private static int Utf8PrefixLength(ReadOnlySpan<byte> bytes, int max)
    {
        if (bytes.Length <= max)
        {
            return bytes.Length;
        }
        var end = max;
        while (end > 0 && (bytes[end] & 0xC0) == 0x80)
        {
            end--;
        }
        return end;
    }
}
