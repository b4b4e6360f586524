using EmitHub.Core.Fanout;

namespace EmitHub.Net.WebSockets;

/// <summary>
/// What every streaming connection sends to a channel subscriber, without I/O: the bounded <see cref="OutboundQueue"/>
/// of shared frames and the close code recorded once (first reason wins). It is the connection's
/// <see cref="IChannelSubscriber"/>: Core enqueues envelopes into it; a queue past <c>max_pending_bytes</c> closes it
/// 1008 "slow consumer" and drops what is queued, never delaying a broadcaster. The WebSocket adds its control frames
/// (<see cref="WebSocketOutbox"/>); the Server-Sent Events stream uses it as it is (the close code is then diagnostic).
/// </summary>
public class SubscriberOutbox : IChannelSubscriber, IDisposable
{
    /// <summary>Close reason sent to a slow consumer (SPEC §3).</summary>
    public const string SlowConsumerReason = "slow consumer";

    private static readonly TimeSpan s_roomPollInterval = TimeSpan.FromMilliseconds(5);

    private readonly OutboundQueue _queue;
    // The close state is guarded by the monitor of _queue, a private object nobody else locks (OutboundQueue's own
    // lock is a separate Lock inside it): a lock object of its own would be 40 more bytes on every idle connection,
    // and closes are rare enough that Monitor's cost does not show.
    private bool _closeRequested;
    private ushort _closeCode;
    private string _closeReason = "";
    private int _slowConsumer;

    /// <summary>Creates the outbox of connection <paramref name="connectionId"/>, bounded at <paramref name="maxPendingBytes"/> (<c>[websocket] max_pending_bytes</c>).</summary>
    public SubscriberOutbox(Guid connectionId, long maxPendingBytes)
    {
        ConnectionId = connectionId;
        _queue = new OutboundQueue(maxPendingBytes);
    }

    /// <inheritdoc/>
    public Guid ConnectionId { get; }

    /// <summary>The queue (for diagnostics: <see cref="OutboundQueue.PendingBytes"/>).</summary>
    public OutboundQueue Queue => _queue;

    /// <summary>True once <see cref="Close"/> was called (by Core, the read loop, the heartbeat, or a slow-consumer verdict).</summary>
    public bool IsClosing
    {
        get
        {
            lock (_queue)
            {
                return _closeRequested;
            }
        }
    }

    /// <summary>True when the connection was cut as a slow consumer (count it once per connection).</summary>
    public bool IsSlowConsumer => Volatile.Read(ref _slowConsumer) != 0;

    /// <summary>The close code recorded by the first <see cref="Close"/> (0 while open).</summary>
    public ushort CloseCode
    {
        get
        {
            lock (_queue)
            {
                return _closeCode;
            }
        }
    }

    /// <summary>The close reason recorded by the first <see cref="Close"/>.</summary>
    public string CloseReason
    {
        get
        {
            lock (_queue)
            {
                return _closeReason;
            }
        }
    }

    /// <summary>
    /// Queues a shared frame (taking a reference) without blocking. False when closing, or when it would pass
    /// <c>max_pending_bytes</c>: then the outbox closes itself 1008 "slow consumer" and drops what is still queued.
    /// </summary>
    public bool TryEnqueue(OutboundMessage message)
    {
        switch (_queue.TryEnqueue(message))
        {
            case EnqueueResult.Accepted:
                return true;
            case EnqueueResult.OverLimit:
                if (Interlocked.Exchange(ref _slowConsumer, 1) == 0)
                {
                    Close(WebSocketCloseCodes.PolicyViolation, SlowConsumerReason);
                    _queue.DiscardQueued();
                }
                return false;
            default:
                return false;
        }
    }

    /// <inheritdoc/>
    void IChannelSubscriber.Close(SubscriberCloseReason reason)
    {
        var (code, text) = ChannelCloseCodes.For(reason);
        Close(code, text);
    }

    /// <summary>
    /// Ends the connection with <paramref name="closeCode"/>: no more messages are accepted; those queued are still
    /// sent. The first call's code and reason win. Never blocks.
    /// </summary>
    public void Close(ushort closeCode, string reason)
    {
        lock (_queue)
        {
            if (_closeRequested)
            {
                return;
            }
            _closeRequested = true;
            _closeCode = closeCode;
            _closeReason = reason ?? "";
        }
        _queue.Complete();
    }

    /// <inheritdoc/>
    public async ValueTask WaitForRoomAsync(long bytes, CancellationToken cancellationToken)
    {
        // Replays are rare and short-lived; polling the byte count keeps the hot enqueue path free of a second signal.
        while (!IsClosing && _queue.PendingBytes != 0 && _queue.PendingBytes + bytes > _queue.MaxPendingBytes)
        {
            await Task.Delay(s_roomPollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Send loop: waits for frames or a wake-up (true), or the end of the queue (false).</summary>
    public ValueTask<bool> WaitAsync() => _queue.WaitAsync();

    /// <summary>Send loop: everything queued, in order, for one gathered send (see <see cref="OutboundQueue.Drain"/>).</summary>
    public int Drain(List<ReadOnlyMemory<byte>> segments) => _queue.Drain(segments);

    /// <summary>Send loop: everything queued, in order, as the queue's in-flight batch, so a shared variant can be
    /// picked for each (see <see cref="OutboundQueue.DrainInFlight"/>).</summary>
    public ReadOnlySpan<OutboundMessage?> DrainInFlight() => _queue.DrainInFlight();

    /// <summary>Send loop: the gathered send finished (or failed); release its frames.</summary>
    public void ReleaseSent() => _queue.ReleaseSent();

    /// <summary>Releases every frame still held. Call once the send loop has ended.</summary>
    public void Dispose() => _queue.Dispose();
}
