using System.Buffers;
using EmitHub.Core.Fanout;

namespace EmitHub.Net.WebSockets;

/// <summary>
/// Everything a WebSocket connection sends, without I/O: the <see cref="SubscriberOutbox"/> (bounded queue of shared
/// frames, close code recorded once, slow-consumer verdict) plus the pongs owed for received pings
/// (<see cref="PendingPong"/>: every ping, in order, up to a bound), a keepalive ping, and the close frame.
/// <para>Read loop: <see cref="OnPing"/>; on the peer's close or a protocol error, <see cref="SubscriberOutbox.Close"/>.
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
public sealed class WebSocketOutbox : SubscriberOutbox
{
    // Created at the first ping the peer sends (browsers never do): 48 bytes an idle WebSocket does not hold.
    private PendingPong? _pong;
    // The keepalive ping's payload while one is due (null otherwise): a copy made per ping (8 bytes from the
    // heartbeat) rather than a 125-byte buffer per connection that an idle connection would hold between pings.
    private byte[]? _ping;
    private int _closeFrameWritten;

    /// <summary>Creates the outbox of connection <paramref name="connectionId"/>, bounded at <paramref name="maxPendingBytes"/> (<c>[websocket] max_pending_bytes</c>).</summary>
    public WebSocketOutbox(Guid connectionId, long maxPendingBytes)
        : base(connectionId, maxPendingBytes)
    {
    }

    /// <summary>Test hook: true once the peer's first ping created the pong state (an idle connection holds none).</summary>
    internal bool HoldsPendingPongForTests => Volatile.Read(ref _pong) is not null;

    /// <summary>Read loop: a ping arrived; its pong joins those not yet sent, up to <see cref="PendingPong.MaxPendingPongs"/>
    /// (ping-flood policy, SPEC §4).</summary>
    public void OnPing(ReadOnlySpan<byte> payload)
    {
        var pong = Volatile.Read(ref _pong);
        if (pong is null)
        {
            // The read loop creates it; the send loop may read it concurrently, so it is published once.
            Interlocked.CompareExchange(ref _pong, new PendingPong(), null);
            pong = _pong!;
        }
        if (pong.OnPing(payload))
        {
            Queue.Wake();
        }
    }

    /// <summary>Heartbeat: send a keepalive ping with <paramref name="payload"/> (≤ 125 bytes) at the next send.</summary>
    public void SendPing(ReadOnlySpan<byte> payload)
    {
        if (payload.Length > WebSocketFrameEncoder.MaxControlPayloadLength)
        {
            throw new ArgumentException("Ping payloads are at most 125 bytes (RFC 6455 §5.5).", nameof(payload));
        }
        // A newer ping replaces one not yet sent: only the latest keepalive matters.
        Volatile.Write(ref _ping, payload.ToArray());
        Queue.Wake();
    }

    /// <summary>Send loop: writes the pending pongs (in ping order) and keepalive ping, if any; returns how many control
    /// frames were written (0 to <see cref="PendingPong.MaxPendingPongs"/> + 1). Control frames may go between messages
    /// (RFC 6455 §5.4); ours are single-frame messages.</summary>
    public int WriteControlFrames(IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var frames = Volatile.Read(ref _pong)?.WritePongs(writer) ?? 0;

        if (Interlocked.Exchange(ref _ping, null) is { } ping)
        {
            WebSocketFrameEncoder.WritePing(writer, ping);
            frames++;
        }
        return frames;
    }

    /// <summary>
    /// Send loop, after <see cref="SubscriberOutbox.WaitAsync"/> returned false: writes the close frame with the recorded code and
    /// reason, once. False when no close was requested or it was already written.
    /// </summary>
    public bool TryWriteCloseFrame(IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        // The code and reason are fixed once IsClosing is true.
        if (!IsClosing || Interlocked.Exchange(ref _closeFrameWritten, 1) != 0)
        {
            return false;
        }
        WebSocketFrameEncoder.WriteClose(writer, CloseCode, CloseReason);
        return true;
    }
}
