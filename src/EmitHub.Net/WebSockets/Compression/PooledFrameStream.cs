using System.Buffers;

namespace EmitHub.Net.WebSockets.Compression;

/// <summary>
/// A write-only stream into a pooled buffer that keeps <see cref="WebSocketFrameEncoder.MaxServerHeaderLength"/>
/// bytes free at the front, so a <see cref="System.IO.Compression.DeflateStream"/>'s output becomes a frame payload
/// and its header is written in place before it (no copy). <see cref="Detach"/> hands the buffer over.
/// </summary>
internal sealed class PooledFrameStream : Stream
{
    private byte[] _buffer;
    private int _length;

    public PooledFrameStream(int initialPayloadCapacity) =>
        _buffer = ArrayPool<byte>.Shared.Rent(WebSocketFrameEncoder.MaxServerHeaderLength + Math.Max(initialPayloadCapacity, 64));

    /// <summary>Bytes written since the last <see cref="Detach"/>.</summary>
    public int WrittenLength => _length;

    /// <summary>The bytes written, after the reserved header space.</summary>
    public Span<byte> Written => _buffer.AsSpan(WebSocketFrameEncoder.MaxServerHeaderLength, _length);

    /// <summary>Hands the buffer to the caller (payload at offset <see cref="WebSocketFrameEncoder.MaxServerHeaderLength"/>)
    /// and starts a new one of <paramref name="nextCapacity"/> bytes, or with 0 none: later writes are discarded.</summary>
    public byte[] Detach(int nextCapacity)
    {
        var buffer = _buffer;
        _buffer = nextCapacity > 0 ? ArrayPool<byte>.Shared.Rent(WebSocketFrameEncoder.MaxServerHeaderLength + nextCapacity) : [];
        _length = 0;
        return buffer;
    }

    /// <summary>Forgets what was written, keeping the buffer.</summary>
    public void Reset() => _length = 0;

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_buffer.Length == 0)
        {
            // Detached for good: what a disposing DeflateStream writes after the last message is not wanted.
            return;
        }
        var needed = WebSocketFrameEncoder.MaxServerHeaderLength + _length + buffer.Length;
        if (needed > _buffer.Length)
        {
            var next = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer.Length * 2));
            _buffer.AsSpan(0, WebSocketFrameEncoder.MaxServerHeaderLength + _length).CopyTo(next);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = next;
        }
        buffer.CopyTo(_buffer.AsSpan(WebSocketFrameEncoder.MaxServerHeaderLength + _length));
        _length += buffer.Length;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void WriteByte(byte value) => Write([value]);

    public override void Flush()
    {
    }

    protected override void Dispose(bool disposing)
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
        base.Dispose(disposing);
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => _length;
    public override long Position { get => _length; set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
