using System.Diagnostics;
using System.Threading.Tasks.Sources;

namespace EmitHub.Core.Fanout;

/// <summary>What <see cref="OutboundQueue.TryEnqueue"/> did with a message (uWebSockets' SUCCESS / BACKPRESSURE / DROPPED).</summary>
public enum EnqueueResult : byte
{
    /// <summary>Queued; the queue took its own reference.</summary>
    Accepted = 0,

    /// <summary>Refused: it would pass <c>max_pending_bytes</c>. The queue is now closed to producers; the connection
    /// must be closed 1008 "slow consumer" (SPEC §3). Returned once, to the producer that crossed the bound.</summary>
    OverLimit,

    /// <summary>Refused: the queue was completed (connection closing) or already over its limit.</summary>
    Closed,
}

/// <summary>
/// A connection's outbound queue of <see cref="OutboundMessage"/>: many producers (broadcasts, the connection's own
/// envelopes), one consumer (the connection's send loop). Bounded in bytes: a message is counted from
/// <see cref="TryEnqueue"/> until the send that carried it completes (<see cref="ReleaseSent"/>), so a client that
/// stops reading holds at most <c>max_pending_bytes</c> (an empty queue accepts any one message, however large). Past the bound the queue refuses everything from then on
/// (dropping one message and delivering later ones would break ordering); the caller closes the connection.
/// <para>
/// Concurrency: a <see cref="Lock"/> held for a few instructions per call rather than a lock-free list. Producers to
/// one connection rarely overlap (one channel per connection), the consumer takes the lock once per batch, and a lock
/// makes "every message is released exactly once, even when Complete races TryEnqueue" obvious; the queue swaps two
/// arrays (double buffering) so steady-state operation allocates nothing.
/// </para>
/// The consumer loop:
/// <code>
/// while (await queue.WaitAsync())
/// {
///     pendingPong.WritePongs(output);        // control frames outside the queue, if any
///     queue.Drain(segments);                 // everything queued, in order
///     await transport.SendAsync(segments);   // one gathered send
///     queue.ReleaseSent();
/// }
/// // completed and empty: write the close frame
/// </code>
/// </summary>
public sealed class OutboundQueue : IValueTaskSource<bool>, IDisposable
{
    // Small to start (an idle connection holds both arrays for its whole life: 2 x 56 bytes, not 2 x 152); a busy
    // connection grows them to its largest burst once and keeps that size (see DrainBatch).
    private const int InitialCapacity = 4;

    private readonly Lock _lock = new();
    private readonly long _maxPendingBytes;

    // Producer side: messages queued and not yet drained. Guarded by _lock.
    private OutboundMessage?[] _queued = new OutboundMessage?[InitialCapacity];
    private int _queuedCount;
    private long _pendingBytes;
    private bool _completed;
    private bool _overLimit;
    private bool _disposed;
    private bool _waiterArmed;
    private bool _wakeRequested;
    // The armed wait is a cork (WaitCorkedAsync): messages and wakes do not end it, Uncork and completion do.
    private bool _corked;

    // Consumer side: the batch handed to the last Drain, released by ReleaseSent. Only the consumer touches it
    // (the swap with _queued happens under _lock).
    private OutboundMessage?[] _inFlight = new OutboundMessage?[InitialCapacity];
    private int _inFlightCount;
    private long _inFlightBytes;

    private ManualResetValueTaskSourceCore<bool> _signal = new() { RunContinuationsAsynchronously = true };

    /// <summary>Creates a queue bounded at <paramref name="maxPendingBytes"/> bytes (<c>[websocket] max_pending_bytes</c>, default 1 MiB).</summary>
    public OutboundQueue(long maxPendingBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPendingBytes);
        _maxPendingBytes = maxPendingBytes;
    }

    /// <summary>The bound in bytes.</summary>
    public long MaxPendingBytes => _maxPendingBytes;

    /// <summary>Bytes queued or in the send in flight, not yet released.</summary>
    public long PendingBytes
    {
        get
        {
            lock (_lock)
            {
                return _pendingBytes;
            }
        }
    }

    /// <summary>Messages queued and not yet drained.</summary>
    public int QueuedCount
    {
        get
        {
            lock (_lock)
            {
                return _queuedCount;
            }
        }
    }

    /// <summary>True once the bound was passed (the connection is a slow consumer).</summary>
    public bool IsOverLimit
    {
        get
        {
            lock (_lock)
            {
                return _overLimit;
            }
        }
    }

    /// <summary>True once <see cref="Complete"/> was called or the bound was passed: producers are refused.</summary>
    public bool IsCompleted
    {
        get
        {
            lock (_lock)
            {
                return _completed;
            }
        }
    }

    /// <summary>
    /// Queues <paramref name="message"/> without blocking. On <see cref="EnqueueResult.Accepted"/> the queue has taken
    /// its own reference (<see cref="OutboundMessage.AddRef"/>); otherwise nothing was taken. Wakes the send loop only
    /// when it is waiting, so a burst of messages costs one wake-up. Never throws for a closed queue.
    /// </summary>
    public EnqueueResult TryEnqueue(OutboundMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        bool wake;
        lock (_lock)
        {
            if (_completed)
            {
                return EnqueueResult.Closed;
            }
            // An empty queue takes any one message, so a broadcast near message_size_limit (framed, a little over a
            // 1 MiB default bound) does not cut every client; the bound is then max_pending_bytes plus one message.
            if (_pendingBytes != 0 && message.Length > _maxPendingBytes - _pendingBytes)
            {
                _overLimit = true;
                _completed = true;
                wake = DisarmWaiter();
                // Waking lets the send loop see completion; it then closes the connection.
                if (wake)
                {
                    _signal.SetResult(_queuedCount > 0);
                }
                return EnqueueResult.OverLimit;
            }

            message.AddRef();
            if (_queuedCount == _queued.Length)
            {
                Array.Resize(ref _queued, _queued.Length * 2);
            }
            _queued[_queuedCount++] = message;
            _pendingBytes += message.Length;
            wake = !_corked && DisarmWaiter();
        }

        if (wake)
        {
            _signal.SetResult(true);
        }
        return EnqueueResult.Accepted;
    }

    /// <summary>
    /// Wakes the send loop without queuing a message, so it writes something that lives outside the queue: the pong
    /// for the latest ping (<c>PendingPong</c>) or a keepalive ping. <see cref="WaitAsync"/> then returns true even
    /// if <see cref="Drain"/> finds nothing. Coalesces: many wakes before the loop runs cost one wake-up. Never blocks.
    /// </summary>
    public void Wake()
    {
        bool wake;
        lock (_lock)
        {
            if (_completed || _corked)
            {
                // Corked: the uncork that ends the wait lets the send loop write its control frames too.
                return;
            }
            wake = DisarmWaiter();
            if (!wake)
            {
                _wakeRequested = true;
            }
        }
        if (wake)
        {
            _signal.SetResult(true);
        }
    }

    /// <summary>
    /// Waits until there is something to drain or a <see cref="Wake"/> (true) or the queue is completed and empty (false). One waiter at a
    /// time (the send loop); completes synchronously when messages are already queued. Call <see cref="ReleaseSent"/>
    /// for the previous batch first.
    /// </summary>
    public ValueTask<bool> WaitAsync()
    {
        lock (_lock)
        {
            ThrowIfWaiterArmed();
            if (_queuedCount > 0 || _wakeRequested)
            {
                _wakeRequested = false;
                return new ValueTask<bool>(true);
            }
            if (_completed || _disposed)
            {
                return new ValueTask<bool>(false);
            }
            return ArmWaiter(corked: false);
        }
    }

    /// <summary>
    /// Send coalescing (<c>[websocket] coalesce_window_ms</c>): waits until <see cref="Uncork"/> (true) or until the
    /// queue is completed (<see cref="Complete"/>: true while messages remain to drain; <see cref="DiscardQueued"/>
    /// and <see cref="Dispose"/>: false). Messages and <see cref="Wake"/>s arriving meanwhile do not end the wait, so
    /// they join the next gathered send; a slow-consumer verdict or a close still ends it at once. One waiter at a
    /// time (the send loop), as <see cref="WaitAsync"/>.
    /// </summary>
    public ValueTask<bool> WaitCorkedAsync()
    {
        lock (_lock)
        {
            ThrowIfWaiterArmed();
            if (_completed || _disposed)
            {
                return new ValueTask<bool>(_queuedCount > 0);
            }
            return ArmWaiter(corked: true);
        }
    }

    /// <summary>Ends a <see cref="WaitCorkedAsync"/> (its result is true); does nothing when no corked wait is
    /// armed. Any thread.</summary>
    public void Uncork()
    {
        bool wake;
        lock (_lock)
        {
            wake = _corked && DisarmWaiter();
        }
        if (wake)
        {
            _signal.SetResult(true);
        }
    }

    /// <summary>
    /// Moves everything queued into the in-flight batch and appends each message's <see cref="OutboundMessage.Frame"/>
    /// to <paramref name="segments"/> (cleared first), in enqueue order, for one gathered send. Returns the number of
    /// messages. The segments stay valid until <see cref="ReleaseSent"/>.
    /// </summary>
    public int Drain(List<ReadOnlyMemory<byte>> segments)
    {
        ArgumentNullException.ThrowIfNull(segments);
        segments.Clear();
        var count = DrainBatch();
        for (var i = 0; i < count; i++)
        {
            segments.Add(_inFlight[i]!.Frame);
        }
        return count;
    }

    /// <summary>
    /// Moves everything queued into the in-flight batch and returns it, in enqueue order (every element non-null), so
    /// the send loop can pick a shared variant of each (<see cref="OutboundMessage.GetVariant{TState}"/>). The span is
    /// the queue's own array: read it before the next <see cref="ReleaseSent"/> and do not keep it across an await
    /// (copy what the send needs, e.g. the frames' array segments). A send loop keeps no message list while idle.
    /// </summary>
    public ReadOnlySpan<OutboundMessage?> DrainInFlight()
    {
        var count = DrainBatch();
        return _inFlight.AsSpan(0, count);
    }

    private int DrainBatch()
    {
        if (_inFlightCount != 0)
        {
            throw new InvalidOperationException("ReleaseSent must be called for the previous batch before draining again.");
        }

        lock (_lock)
        {
            // Swap buffers: producers continue into the (empty) former in-flight array.
            (_queued, _inFlight) = (_inFlight, _queued);
            _inFlightCount = _queuedCount;
            _queuedCount = 0;
            if (_queued.Length < _inFlight.Length)
            {
                // Keep both arrays the size of the largest burst so a steady state does not resize.
                _queued = new OutboundMessage?[_inFlight.Length];
            }
        }

        long bytes = 0;
        for (var i = 0; i < _inFlightCount; i++)
        {
            bytes += _inFlight[i]!.Length;
        }
        _inFlightBytes = bytes;
        return _inFlightCount;
    }

    /// <summary>Releases the batch handed out by the last <see cref="Drain"/> (its send completed or failed) and frees its bytes from the bound.</summary>
    public void ReleaseSent()
    {
        var count = _inFlightCount;
        if (count == 0)
        {
            return;
        }
        for (var i = 0; i < count; i++)
        {
            var message = _inFlight[i]!;
            _inFlight[i] = null;
            message.Release();
        }
        _inFlightCount = 0;
        lock (_lock)
        {
            _pendingBytes -= _inFlightBytes;
        }
        _inFlightBytes = 0;
    }

    /// <summary>
    /// Stops accepting messages (<see cref="EnqueueResult.Closed"/> from now on) and wakes the send loop; what is
    /// already queued can still be drained, after which <see cref="WaitAsync"/> returns false. Idempotent.
    /// </summary>
    public void Complete()
    {
        bool wake;
        bool hasItems;
        lock (_lock)
        {
            if (_completed)
            {
                return;
            }
            _completed = true;
            wake = DisarmWaiter();
            hasItems = _queuedCount > 0;
        }
        if (wake)
        {
            _signal.SetResult(hasItems);
        }
    }

    /// <summary>
    /// Completes the queue and releases the messages queued but not yet drained (the in-flight batch stays with the
    /// send loop until <see cref="ReleaseSent"/>). For a slow consumer: nothing more is worth sending before the close
    /// frame. Returns how many messages were dropped. Safe from any thread.
    /// </summary>
    public int DiscardQueued()
    {
        bool wake;
        int dropped;
        lock (_lock)
        {
            _completed = true;
            wake = DisarmWaiter();
            dropped = _queuedCount;
            for (var i = 0; i < dropped; i++)
            {
                var message = _queued[i]!;
                _queued[i] = null;
                _pendingBytes -= message.Length;
                message.Release();
            }
            _queuedCount = 0;
        }
        if (wake)
        {
            _signal.SetResult(false);
        }
        return dropped;
    }

    /// <summary>
    /// Completes the queue and releases every message still held (queued and in flight). Call from the connection
    /// once its send loop has ended (not concurrently with a send in progress). Idempotent.
    /// </summary>
    public void Dispose()
    {
        OutboundMessage?[] queued;
        int queuedCount;
        bool wake;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            _completed = true;
            wake = DisarmWaiter();
            queued = _queued;
            queuedCount = _queuedCount;
            _queuedCount = 0;
            _pendingBytes = 0;
        }

        for (var i = 0; i < queuedCount; i++)
        {
            var message = queued[i]!;
            queued[i] = null;
            message.Release();
        }
        for (var i = 0; i < _inFlightCount; i++)
        {
            var message = _inFlight[i]!;
            _inFlight[i] = null;
            message.Release();
        }
        _inFlightCount = 0;
        _inFlightBytes = 0;
        if (wake)
        {
            _signal.SetResult(false);
        }
    }

    // Caller holds _lock.
    private void ThrowIfWaiterArmed()
    {
        if (_waiterArmed)
        {
            throw new InvalidOperationException("Only the send loop may wait on an OutboundQueue, one wait at a time.");
        }
    }

    // Caller holds _lock. The send loop's wait: ended by a message or a wake, or, corked, only by Uncork or completion.
    private ValueTask<bool> ArmWaiter(bool corked)
    {
        _signal.Reset();
        _waiterArmed = true;
        _corked = corked;
        return new ValueTask<bool>(this, _signal.Version);
    }

    // Caller holds _lock. True when a waiter was armed and must now be completed (outside the lock when possible).
    private bool DisarmWaiter()
    {
        Debug.Assert(_lock.IsHeldByCurrentThread);
        if (!_waiterArmed)
        {
            return false;
        }
        _waiterArmed = false;
        _corked = false;
        return true;
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _signal.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _signal.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _signal.OnCompleted(continuation, state, token, flags);
}
