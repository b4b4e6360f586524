using System.Buffers;
using System.IO.Compression;

namespace EmitHub.Net.WebSockets.Compression;

/// <summary>
/// Inflates client messages that arrived with RSV1 set (RFC 7692 §7.2.2): appends the <c>00 00 ff ff</c> the sender
/// removed and runs raw DEFLATE. The inflated size is held to <c>message_size_limit</c> while inflating, in steps of
/// a few KiB, so a 1 KB deflate bomb that would expand to 1 GB costs at most the limit and is refused (1009).
/// With client context takeover one inflate context lives across the connection's messages (created at the first
/// compressed message); with <c>client_no_context_takeover</c> each message gets a fresh one. The 32 KiB window reads
/// any <c>client_max_window_bits</c>. Not thread-safe: one per connection, used by its receive loop.
/// </summary>
public sealed class PerMessageDeflateInflater : IDisposable
{
    private const int OutputStep = 16 * 1024;

    private readonly bool _contextTakeover;
    private readonly ArrayPool<byte> _pool;
    private readonly MessageSource _source = new();
    private DeflateStream? _inflate;

    /// <summary>Creates the inflater of one connection; <paramref name="clientNoContextTakeover"/> as agreed.</summary>
    public PerMessageDeflateInflater(bool clientNoContextTakeover, ArrayPool<byte>? pool = null)
    {
        _contextTakeover = !clientNoContextTakeover;
        _pool = pool ?? ArrayPool<byte>.Shared;
    }

    /// <summary>
    /// Inflates one complete message's compressed payload into a buffer rented from the pool (the caller returns it).
    /// Returns <see cref="WebSocketProtocolError.None"/> with the buffer and length, <see cref="WebSocketProtocolError.InflatedMessageTooBig"/>
    /// when the output passes <paramref name="maxLength"/>, or <see cref="WebSocketProtocolError.InvalidCompressedData"/>
    /// when the bytes are not valid DEFLATE. On an error no buffer is handed out and the connection must fail.
    /// </summary>
    public WebSocketProtocolError Inflate(ReadOnlyMemory<byte> compressed, long maxLength, out byte[]? buffer, out int length)
    {
        buffer = null;
        length = 0;
        _source.Set(compressed);
        if (_inflate is null || !_contextTakeover)
        {
            _inflate?.Dispose();
            _inflate = new DeflateStream(_source, CompressionMode.Decompress, leaveOpen: true);
        }

        var output = _pool.Rent((int)Math.Min(Math.Max(compressed.Length * 4L, 256), Math.Min(maxLength + 1, OutputStep)));
        var written = 0;
        try
        {
            while (true)
            {
                if (written == output.Length)
                {
                    if (written > maxLength)
                    {
                        break;
                    }
                    // Grow by doubling, but never to more than one byte past the limit: that byte proves "too big".
                    var next = _pool.Rent((int)Math.Min(Math.Min((long)output.Length * 2, maxLength + 1), Array.MaxLength));
                    output.AsSpan(0, written).CopyTo(next);
                    _pool.Return(output);
                    output = next;
                }
                var read = _inflate.Read(output, written, output.Length - written);
                if (read == 0)
                {
                    break;
                }
                written += read;
            }
        }
        catch (InvalidDataException)
        {
            _pool.Return(output);
            DropContext();
            return WebSocketProtocolError.InvalidCompressedData;
        }

        if (written > maxLength)
        {
            _pool.Return(output);
            DropContext();
            return WebSocketProtocolError.InflatedMessageTooBig;
        }
        if (!_contextTakeover)
        {
            DropContext();
        }
        buffer = output;
        length = written;
        return WebSocketProtocolError.None;
    }

    /// <summary>Frees the inflate context.</summary>
    public void Dispose() => DropContext();

    private void DropContext()
    {
        _inflate?.Dispose();
        _inflate = null;
    }

    // The compressed payload followed by the 00 00 ff ff tail (RFC 7692 §7.2.2); reads 0 once both are consumed, which
    // DeflateStream takes as "no more input for now", keeping its context for the next message.
    private sealed class MessageSource : Stream
    {
        private static readonly byte[] s_tail = [0x00, 0x00, 0xFF, 0xFF];
        private ReadOnlyMemory<byte> _payload;
        private int _tailOffset;

        public void Set(ReadOnlyMemory<byte> payload)
        {
            _payload = payload;
            _tailOffset = 0;
        }

        public override int Read(Span<byte> buffer)
        {
            if (!_payload.IsEmpty)
            {
                var n = Math.Min(buffer.Length, _payload.Length);
                _payload.Span[..n].CopyTo(buffer);
                _payload = _payload[n..];
                return n;
            }
            var tail = Math.Min(buffer.Length, s_tail.Length - _tailOffset);
            s_tail.AsSpan(_tailOffset, tail).CopyTo(buffer);
            _tailOffset += tail;
            return tail;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush()
        {
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
