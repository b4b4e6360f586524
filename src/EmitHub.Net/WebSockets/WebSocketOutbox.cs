using System.Buffers;
using EmitHub.Core.Fanout;

namespace EmitHub.Net.WebSockets;

/// <summary>
/// Everything a WebSocket connection sends, without I/O: the bounded <see cref="OutboundQueue"/> of shared frames,
/// the pongs owed for received pings (<see cref="PendingPong"/>: every ping, in order, up to a bound), a keepalive ping, and the close frame, with the close
/// code recorded once (first reason wins). It is the connection's <see cref="IChannelSubscriber"/>: Core enqueues
/// envelopes into it; a queue past <c>max_pending_bytes</c> closes it 1008 "slow consumer" and drops what is queued.
/// <para>Read loop: <see cref="OnPing"/>; on the peer's close or a protocol error, <see cref="Close"/>.
/// Heartbeat: <see cref="SendPing"/>. Send loop:</para>
/// <code>
/// while (await outbox.WaitAsync())
/// {
///     outbox.WriteControlFrames(output);     // pong / keepalive ping, ahead of data
///     outbox.Drain(segments);                // every queued frame, in order
///     write segments; await output.FlushAsync();
///     outbox.ReleaseSent();
/// }
/// if (outbox.TryWriteCloseFrame(output)) await output.FlushAsync();   // then wait for the peer's close (connection_timeout)
/// outbox.Dispose();
/// </code>
/// </summary>
public sealed class WebSocketOutbox : IChannelSubscriber, IDisposable
{
    /// <summary>Close reason sent to a slow consumer (SPEC §3).</summary>
    public const string SlowConsumerReason = "slow consumer";

    private readonly OutboundQueue _queue;
    private readonly PendingPong _pong = new();
    private readonly Lock _pingLock = new();
    private readonly byte[] _ping = new byte[WebSocketFrameEncoder.MaxControlPayloadLength];
    private int _pingLength = -1;
    private readonly Lock _closeLock = new();
    private bool _closeRequested;
    private int _closeFrameWritten; // guarded by _closeLock
    private ushort _closeCode;
    private string _closeReason = "";
    private int _slowConsumer;

    /// <summary>Creates the outbox of connection <paramref name="connectionId"/>, bounded at <paramref name="maxPendingBytes"/> (<c>[websocket] max_pending_bytes</c>).</summary>
    public WebSocketOutbox(Guid connectionId, long maxPendingBytes)
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
            lock (_closeLock)
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
            lock (_closeLock)
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
            lock (_closeLock)
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
    /// Starts the closing handshake with <paramref name="closeCode"/>: no more messages are accepted; those queued
    /// are still sent, then the close frame. The first call's code and reason win. Use
    /// <see cref="WebSocketCloseCodes.NoStatusReceived"/> to echo a peer's close that carried no code. Never blocks.
    /// </summary>
    public void Close(ushort closeCode, string reason)
    {
        lock (_closeLock)
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

    private static readonly TimeSpan s_roomPollInterval = TimeSpan.FromMilliseconds(5);

    /// <summary>Read loop: a ping arrived; its pong joins those not yet sent, up to <see cref="PendingPong.MaxPendingPongs"/>
    /// (ping-flood policy, SPEC §4).</summary>
    public void OnPing(ReadOnlySpan<byte> payload)
    {
        if (_pong.OnPing(payload))
        {
            _queue.Wake();
        }
    }

    /// <summary>Heartbeat: send a keepalive ping with <paramref name="payload"/> (≤ 125 bytes) at the next send.</summary>
    public void SendPing(ReadOnlySpan<byte> payload)
    {
        if (payload.Length > WebSocketFrameEncoder.MaxControlPayloadLength)
        {
            throw new ArgumentException("Ping payloads are at most 125 bytes (RFC 6455 §5.5).", nameof(payload));
        }
        lock (_pingLock)
        {
            payload.CopyTo(_ping);
            _pingLength = payload.Length;
        }
        _queue.Wake();
    }

    /// <summary>Send loop: waits for frames, a pending pong or ping (true), or the end of the queue (false).</summary>
    public ValueTask<bool> WaitAsync() => _queue.WaitAsync();

    /// <summary>Send loop: writes the pending pongs (in ping order) and keepalive ping, if any; returns how many control
    /// frames were written (0 to <see cref="PendingPong.MaxPendingPongs"/> + 1). Control frames may go between messages
    /// (RFC 6455 §5.4); ours are single-frame messages.</summary>
    public int WriteControlFrames(IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var frames = _pong.WritePongs(writer);

        Span<byte> ping = stackalloc byte[WebSocketFrameEncoder.MaxControlPayloadLength];
        int length;
        lock (_pingLock)
        {
            length = _pingLength;
            if (length >= 0)
            {
                _ping.AsSpan(0, length).CopyTo(ping);
                _pingLength = -1;
            }
        }
        if (length >= 0)
        {
            WebSocketFrameEncoder.WritePing(writer, ping[..length]);
            frames++;
        }
        return frames;
    }

    /// <summary>Send loop: everything queued, in order, for one gathered send (see <see cref="OutboundQueue.Drain"/>).</summary>
    public int Drain(List<ReadOnlyMemory<byte>> segments) => _queue.Drain(segments);

    /// <summary>Send loop: everything queued, in order, as messages, so a compressed variant can be picked for each.</summary>
    public int DrainMessages(List<OutboundMessage> messages) => _queue.DrainMessages(messages);

    /// <summary>Send loop: the gathered send finished (or failed); release its frames.</summary>
    public void ReleaseSent() => _queue.ReleaseSent();

    /// <summary>
    /// Send loop, after <see cref="WaitAsync"/> returned false: writes the close frame with the recorded code and
    /// reason, once. False when no close was requested or it was already written.
    /// </summary>
    public bool TryWriteCloseFrame(IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ushort code;
        string reason;
        lock (_closeLock)
        {
            if (!_closeRequested || _closeFrameWritten != 0)
            {
                return false;
            }
            _closeFrameWritten = 1;
            (code, reason) = (_closeCode, _closeReason);
        }
        WebSocketFrameEncoder.WriteClose(writer, code, reason);
        return true;
    }

    /// <summary>Releases every frame still held. Call once the send loop has ended.</summary>
    public void Dispose() => _queue.Dispose();
}
