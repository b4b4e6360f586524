using System.Buffers;
using System.IO.Compression;
using EmitHub.Core.Fanout;

namespace EmitHub.Net.WebSockets.Compression;

/// <summary>
/// Compresses server frames for <c>permessage-deflate</c> (RFC 7692 §7.2.1): raw DEFLATE of the payload, flushed
/// with a sync flush, with the trailing <c>00 00 ff ff</c> removed, sent as one frame with RSV1 set ("Per-Message
/// Compressed"). <see cref="CompressShared"/> is the shared form: each message on its own (no context takeover), built
/// once per broadcast as a variant of the shared frame. An instance is the per-connection form: one deflate context
/// kept across messages (context takeover), owned by one connection's send loop.
/// </summary>
public sealed class PerMessageDeflateCompressor : IDisposable
{
    /// <summary>
    /// Payloads shorter than this go out uncompressed (RSV1 clear), which RFC 7692 allows message by message. A
    /// 120-byte envelope compresses on its own to about as many bytes plus a 2-byte deflate block header, while
    /// starting a compressor costs more CPU than the whole send (bench/EmitHub.Benchmarks/CompressionBenchmarks.cs).
    /// </summary>
    public const int MinCompressedPayload = 256;

    /// <summary>DEFLATE level: zlib's default (6), a good ratio for JSON at a CPU cost paid once per broadcast.</summary>
    public const CompressionLevel Level = CompressionLevel.Optimal;

    private static ReadOnlySpan<byte> SyncFlushTail => [0x00, 0x00, 0xFF, 0xFF];

    private readonly PooledFrameStream _output;
    private readonly DeflateStream _deflate;

    /// <summary>Creates a per-connection compressor (context takeover).</summary>
    public PerMessageDeflateCompressor()
    {
        _output = new PooledFrameStream(1024);
        _deflate = new DeflateStream(_output, Level, leaveOpen: true);
    }

    /// <summary>
    /// The shared form: <paramref name="message"/> (a complete unfragmented server data frame) compressed on its own,
    /// as a new frame with RSV1 set (refcount 1), or null when it is below <see cref="MinCompressedPayload"/> or would
    /// not shrink. Fits <see cref="OutboundMessage.GetVariant{TState}"/>.
    /// </summary>
    public static OutboundMessage? CompressShared(OutboundMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var frame = message.Frame.Span;
        var payload = ServerFrame.GetPayload(frame);
        if (payload.Length < MinCompressedPayload)
        {
            return null;
        }
        using var output = new PooledFrameStream(payload.Length / 2);
        using (var deflate = new DeflateStream(output, Level, leaveOpen: true))
        {
            deflate.Write(payload);
            deflate.Flush();
            if (!EndsWithSyncFlush(output) || output.WrittenLength - SyncFlushTail.Length >= payload.Length)
            {
                return null;
            }
            return Frame(output, ServerFrame.GetOpcode(frame), output.WrittenLength - SyncFlushTail.Length, message.Sequence, nextCapacity: 0);
        }
    }

    /// <summary>
    /// The per-connection form: <paramref name="message"/>'s payload through this connection's deflate context, as
    /// a new frame with RSV1 set (refcount 1, owned by the caller), or null when below <see cref="MinCompressedPayload"/>
    /// (sent uncompressed, the context untouched). Once compressed, a message is always sent compressed: the
    /// client's inflater must see the same history.
    /// </summary>
    public OutboundMessage? Compress(OutboundMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var frame = message.Frame.Span;
        var payload = ServerFrame.GetPayload(frame);
        if (payload.Length < MinCompressedPayload)
        {
            return null;
        }
        _output.Reset();
        _deflate.Write(payload);
        _deflate.Flush();
        if (!EndsWithSyncFlush(_output))
        {
            throw new InvalidOperationException("A DEFLATE sync flush did not end with 00 00 ff ff.");
        }
        return Frame(_output, ServerFrame.GetOpcode(frame), _output.WrittenLength - SyncFlushTail.Length, message.Sequence, nextCapacity: 1024);
    }

    /// <summary>Frees the deflate context and its buffer.</summary>
    public void Dispose()
    {
        _deflate.Dispose();
        _output.Dispose();
    }

    private static bool EndsWithSyncFlush(PooledFrameStream output) =>
        output.WrittenLength >= SyncFlushTail.Length && output.Written[^SyncFlushTail.Length..].SequenceEqual(SyncFlushTail);

    // Writes the header (FIN, RSV1, the original opcode) right before the compressed payload and hands the buffer over.
    private static OutboundMessage Frame(PooledFrameStream output, WebSocketOpcode opcode, int payloadLength, long sequence, int nextCapacity)
    {
        var headerLength = WebSocketFrameEncoder.GetHeaderLength(payloadLength);
        var buffer = output.Detach(nextCapacity);
        var start = WebSocketFrameEncoder.MaxServerHeaderLength - headerLength;
        WebSocketFrameEncoder.WriteHeader(buffer.AsSpan(start, headerLength), opcode, payloadLength);
        buffer[start] |= ServerFrame.Rsv1;
        return OutboundMessage.FromRented(buffer, start, headerLength + payloadLength, sequence);
    }
}
