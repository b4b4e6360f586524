namespace EmitHub.Core.Fanout;

/// <summary>
/// A receiver of a channel's messages: in production a WebSocket connection (EmitHub.Net), in tests and
/// benchmarks an in-memory fake. Implementations must never block the caller.
/// </summary>
public interface IChannelSubscriber
{
    /// <summary>Identifies the connection in envelopes (<c>connection_id</c>) and logs.</summary>
    Guid ConnectionId { get; }

    /// <summary>
    /// Queues <paramref name="message"/> for sending without blocking. On success the subscriber has taken its
    /// own reference (<see cref="OutboundMessage.AddRef"/>) and releases it after the send completes. Returns
    /// false when the subscriber is closing or its outbound bound (<c>max_pending_bytes</c>) would be passed; in the
    /// latter case the subscriber closes itself with 1008 "slow consumer" (SPEC §3). Never throws.
    /// </summary>
    bool TryEnqueue(OutboundMessage message);

    /// <summary>
    /// Asks the connection to close for <paramref name="reason"/> after the messages already queued are sent; the
    /// transport chooses the close code (RFC 6455 §7.4). Idempotent; the first call's reason wins. Never blocks.
    /// </summary>
    void Close(SubscriberCloseReason reason);

    /// <summary>
    /// Completes once the outbound queue has room for <paramref name="bytes"/> more bytes, or the subscriber is
    /// closing. Paces a store replay (<c>?after=SEQ</c>) so a long history reaches a reading client at its own speed
    /// instead of tripping the slow-consumer bound; broadcasts never wait on it. The default completes at once.
    /// </summary>
    ValueTask WaitForRoomAsync(long bytes, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
