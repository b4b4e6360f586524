using System.Buffers;
using System.Diagnostics;

namespace EmitHub.Core.Fanout;

/// <summary>
/// One server-to-client message, serialized and framed once (WebSocket frame header + payload) into a pooled
/// buffer that every subscriber's send path shares by reference count (STYLE §7, SignalR SerializedHubMessage).
/// The creator holds the first reference; each queue that accepts it calls <see cref="AddRef"/>, and each holder
/// calls <see cref="Release"/> exactly once when done; the last release returns the buffer to the pool.
/// </summary>
public sealed class OutboundMessage
{
    private byte[] _buffer;
    private int _offset;
    private int _length;
    private int _refCount;

    private OutboundMessage(byte[] buffer, int offset, int length)
    {
        _buffer = buffer;
        _offset = offset;
        _length = length;
        _refCount = 1;
    }

    /// <summary>The framed bytes (header + payload) as they go on the wire.</summary>
    public ReadOnlyMemory<byte> Frame
    {
        get
        {
            Debug.Assert(Volatile.Read(ref _refCount) > 0, "OutboundMessage used after its last release.");
            return new ReadOnlyMemory<byte>(_buffer, _offset, _length);
        }
    }

    /// <summary>Length of <see cref="Frame"/> in bytes.</summary>
    public int Length => _length;

    /// <summary>Per-channel sequence of a <c>broadcast</c>/<c>client_message</c>, 0 for other envelopes.</summary>
    public long Sequence { get; init; }

    /// <summary>Current number of references (diagnostics and tests only).</summary>
    public int RefCount => Volatile.Read(ref _refCount);

    /// <summary>
    /// Wraps a rented buffer whose bytes <c>[offset, offset + length)</c> hold one complete frame. Takes ownership
    /// of <paramref name="rentedBuffer"/>: it goes back to <see cref="ArrayPool{T}.Shared"/> on the last release.
    /// </summary>
    public static OutboundMessage FromRented(byte[] rentedBuffer, int offset, int length, long sequence = 0)
        => new(rentedBuffer, offset, length) { Sequence = sequence };

    /// <summary>Copies an already framed message into a fresh pooled buffer (refcount 1).</summary>
    public static OutboundMessage Copy(ReadOnlySpan<byte> frame, long sequence = 0)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(frame.Length, 1));
        frame.CopyTo(buffer);
        return FromRented(buffer, 0, frame.Length, sequence);
    }

    /// <summary>Takes one more reference. Throws when the message was already returned to the pool.</summary>
    public void AddRef()
    {
        int current;
        do
        {
            current = Volatile.Read(ref _refCount);
            if (current <= 0)
            {
                ThrowReleased();
            }
        }
        while (Interlocked.CompareExchange(ref _refCount, current + 1, current) != current);
    }

    /// <summary>Drops one reference; the last one returns the buffer to the pool. Throws on a double release.</summary>
    public void Release()
    {
        var remaining = Interlocked.Decrement(ref _refCount);
        if (remaining == 0)
        {
            var buffer = _buffer;
            _buffer = [];
            _offset = 0;
            _length = 0;
            ArrayPool<byte>.Shared.Return(buffer);
        }
        else if (remaining < 0)
        {
            ThrowReleased();
        }
    }

    [StackTraceHidden]
    private static void ThrowReleased() =>
        throw new InvalidOperationException("OutboundMessage was released more times than it was referenced.");
}
