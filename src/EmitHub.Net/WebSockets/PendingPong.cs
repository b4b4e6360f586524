using System.Buffers;

namespace EmitHub.Net.WebSockets;

/// <summary>
/// Ping-flood policy (SPEC §4, RFC 6455 §5.5.3 "MAY elect to send a Pong frame for only the most recently processed
/// Ping frame"): the read loop records each ping; the send loop, when it next writes, answers only the latest one.
/// However many pings arrive between two sends, one pong is due, so a flood never builds a queue. Thread-safe: the
/// read loop and the send loop may run on different threads; the lock guards a 125-byte copy.
/// </summary>
public sealed class PendingPong
{
    private readonly Lock _lock = new();
    private readonly byte[] _payload = new byte[WebSocketFrameEncoder.MaxControlPayloadLength];
    private int _length;
    private bool _pending;
    private long _replacedCount;

    /// <summary>True when a ping is waiting for its pong.</summary>
    public bool HasPending
    {
        get
        {
            lock (_lock)
            {
                return _pending;
            }
        }
    }

    /// <summary>Pings dropped because a newer ping arrived before the pong was written (diagnostics).</summary>
    public long ReplacedCount => Interlocked.Read(ref _replacedCount);

    /// <summary>Records a received ping's payload (≤ 125 bytes), replacing any ping not yet answered. Returns true when
    /// this ping made a pong due (the send loop should be woken), false when one was already due.</summary>
    public bool OnPing(ReadOnlySpan<byte> payload)
    {
        if (payload.Length > WebSocketFrameEncoder.MaxControlPayloadLength)
        {
            throw new ArgumentException("Ping payloads are at most 125 bytes (RFC 6455 §5.5).", nameof(payload));
        }
        lock (_lock)
        {
            var wasPending = _pending;
            if (wasPending)
            {
                Interlocked.Increment(ref _replacedCount);
            }
            payload.CopyTo(_payload);
            _length = payload.Length;
            _pending = true;
            return !wasPending;
        }
    }

    /// <summary>Writes the pong for the latest unanswered ping to <paramref name="writer"/> and clears it. Returns
    /// false (writing nothing) when no ping is waiting.</summary>
    public bool TryWritePong(IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Span<byte> payload = stackalloc byte[WebSocketFrameEncoder.MaxControlPayloadLength];
        int length;
        lock (_lock)
        {
            if (!_pending)
            {
                return false;
            }
            length = _length;
            _payload.AsSpan(0, length).CopyTo(payload);
            _pending = false;
        }
        WebSocketFrameEncoder.WritePong(writer, payload[..length]);
        return true;
    }
}
