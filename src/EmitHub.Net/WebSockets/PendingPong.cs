using System.Buffers;

namespace EmitHub.Net.WebSockets;

/// <summary>
/// The pongs a connection owes (RFC 6455 §5.5.2, SPEC §4): the read loop records each ping; the send loop, when it
/// next writes, answers every recorded ping in order, each with its own payload. A burst is bounded: at most
/// <see cref="MaxPendingPongs"/> pongs (so at most 16 × 125 = 2,000 payload bytes) wait at once; past that a new ping
/// replaces the newest waiting one (RFC 6455 §5.5.3 allows answering only the most recent ping), so the latest ping is
/// always answered and a flood never builds a queue. Thread-safe: the read loop and the send loop may run on different
/// threads; the lock guards short copies. The payload and length buffers are allocated at the first ping (the payloads
/// grow with bursts), so a connection whose peer never pings (browsers) holds none.
/// </summary>
public sealed class PendingPong
{
    /// <summary>Pongs that may wait for the send loop at once: 16. Conformance suites send bursts of up to 10 pings;
    /// 16 answers every such burst in full while keeping a flood's cost per connection at 2,000 bytes.</summary>
    public const int MaxPendingPongs = 16;

    private const int MaxPayload = WebSocketFrameEncoder.MaxControlPayloadLength;

    // The lock is this object's own monitor (a private, internal class nobody else locks): a separate lock object
    // would be 40 more bytes on every idle WebSocket, and pings are rare enough that Monitor's cost does not show.
    private byte[]? _lengths; // allocated with the payloads, at the first ping
    private byte[]? _payloads; // the waiting payloads back to back, oldest first
    private int _count;
    private int _used;
    private long _replacedCount;

    /// <summary>True when a ping is waiting for its pong.</summary>
    public bool HasPending => PendingCount > 0;

    /// <summary>Pongs waiting to be written (0 to <see cref="MaxPendingPongs"/>).</summary>
    public int PendingCount
    {
        get
        {
            lock (this)
            {
                return _count;
            }
        }
    }

    /// <summary>Pings left unanswered because <see cref="MaxPendingPongs"/> were already waiting and a newer ping took
    /// the newest one's place (diagnostics).</summary>
    public long ReplacedCount => Interlocked.Read(ref _replacedCount);

    /// <summary>Records a received ping's payload (≤ 125 bytes). Returns true when this ping made the first pong due
    /// (the send loop should be woken), false when pongs were already due.</summary>
    /// <exception cref="ArgumentException">The payload is over 125 bytes (RFC 6455 §5.5).</exception>
    public bool OnPing(ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxPayload)
        {
            throw new ArgumentException("Ping payloads are at most 125 bytes (RFC 6455 §5.5).", nameof(payload));
        }
        lock (this)
        {
            var wasEmpty = _count == 0;
            if (_count == MaxPendingPongs)
            {
                // Full: the newest waiting pong gives way to this ping's.
                _count--;
                _used -= _lengths![_count];
                Interlocked.Increment(ref _replacedCount);
            }
            EnsureCapacity(_used + payload.Length);
            _lengths ??= new byte[MaxPendingPongs];
            payload.CopyTo(_payloads.AsSpan(_used));
            _lengths[_count++] = (byte)payload.Length;
            _used += payload.Length;
            return wasEmpty;
        }
    }

    /// <summary>Writes every waiting pong to <paramref name="writer"/>, oldest first, and clears them. Returns how many
    /// were written (0 when no ping is waiting).</summary>
    public int WritePongs(IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        lock (this)
        {
            // The writer is the send loop's own buffer: writing under the lock is a memory copy, never I/O.
            var offset = 0;
            for (var i = 0; i < _count; i++)
            {
                WebSocketFrameEncoder.WritePong(writer, _payloads.AsSpan(offset, _lengths![i]));
                offset += _lengths[i];
            }
            var written = _count;
            _count = 0;
            _used = 0;
            return written;
        }
    }

    private void EnsureCapacity(int required)
    {
        if (_payloads is null || _payloads.Length < required)
        {
            // 128, 256, … up to 2,048 (the bound is 2,000).
            var size = Math.Max(MaxPayload + 3, (_payloads?.Length ?? 0) * 2);
            while (size < required)
            {
                size *= 2;
            }
            var next = new byte[size];
            _payloads?.AsSpan(0, _used).CopyTo(next);
            _payloads = next;
        }
    }
}
