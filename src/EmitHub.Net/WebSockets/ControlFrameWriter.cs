using System.Buffers;

namespace EmitHub.Net.WebSockets;

/// <summary>
/// The send loop's buffer for control frames (pongs, keepalive ping, close), rented from
/// <see cref="ArrayPool{T}.Shared"/> on the first write of a send and returned by <see cref="Reset"/> once that send
/// completed, so an idle connection holds no buffer (issue 10: up to 18 control frames of at most 127 bytes each could
/// be due at once; a buffer kept per connection would be ~400 bytes most connections use once a ping interval).
/// Single-threaded: only the send loop uses it.
/// </summary>
internal sealed class ControlFrameWriter : IBufferWriter<byte>
{
    // A pong burst, a ping and a close: 3 frames fit the first rent; more grow it (ArrayPool rounds up to 512).
    private const int InitialSize = 3 * WebSocketFrameEncoder.MaxControlFrameLength;

    private byte[]? _buffer;
    private int _written;

    /// <summary>Bytes written since the last <see cref="Reset"/>.</summary>
    public int WrittenCount => _written;

    /// <summary>True while a buffer is rented (between the first write and <see cref="Reset"/>).</summary>
    public bool HoldsBuffer => _buffer is not null;

    /// <summary>What was written, as an array segment for a gathered send. Valid until <see cref="Reset"/>.</summary>
    public ArraySegment<byte> WrittenSegment => _buffer is null ? default : new ArraySegment<byte>(_buffer, 0, _written);

    /// <inheritdoc />
    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (_buffer is null || _written + count > _buffer.Length)
        {
            throw new InvalidOperationException("Advanced past the memory handed out by GetMemory/GetSpan.");
        }
        _written += count;
    }

    /// <inheritdoc />
    public Memory<byte> GetMemory(int sizeHint = 0) => Ensure(sizeHint).AsMemory(_written);

    /// <inheritdoc />
    public Span<byte> GetSpan(int sizeHint = 0) => Ensure(sizeHint).AsSpan(_written);

    /// <summary>Forgets what was written and returns the buffer to the pool. Call only when no send still reads it.</summary>
    public void Reset()
    {
        _written = 0;
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private byte[] Ensure(int sizeHint)
    {
        var needed = _written + Math.Max(sizeHint, 1);
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(needed, InitialSize));
        }
        else if (needed > _buffer.Length)
        {
            var next = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer.Length * 2));
            _buffer.AsSpan(0, _written).CopyTo(next);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = next;
        }
        return _buffer;
    }
}
