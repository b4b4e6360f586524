using EmitHub.Core.Fanout;

namespace EmitHub.Net.Multiplex;

/// <summary>
/// One channel's subscriber on a multiplexed socket: envelopes go into the connection's shared outbox (its
/// <c>max_pending_bytes</c> bound and slow-consumer policy cover all channels together), but when Core ends the
/// subscription (<c>denied</c>, <c>stopped</c>, deleted) only this membership ends — the socket stays open for the
/// other channels, as the issue asks: "denied/paused/stopped of one channel are envelopes for that channel".
/// </summary>
internal sealed class MultiplexMembership : IChannelSubscriber
{
    private readonly IChannelSubscriber _connection;
    private readonly Action<MultiplexMembership> _ended;
    private int _closed;

    public MultiplexMembership(Guid channelId, IChannelSubscriber connection, Action<MultiplexMembership> ended)
    {
        ChannelId = channelId;
        _connection = connection;
        _ended = ended;
    }

    public Guid ChannelId { get; }

    /// <summary>True once Core ended this membership or the client unsubscribed.</summary>
    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <inheritdoc/>
    public Guid ConnectionId => _connection.ConnectionId;

    /// <inheritdoc/>
    public bool TryEnqueue(OutboundMessage message) => !IsClosed && _connection.TryEnqueue(message);

    /// <inheritdoc/>
    public void Close(SubscriberCloseReason reason)
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            _ended(this);
        }
    }

    /// <summary>Ends the membership from the client's side (unsubscribe); no callback.</summary>
    public void MarkClosed() => Volatile.Write(ref _closed, 1);

    /// <inheritdoc/>
    public ValueTask WaitForRoomAsync(long bytes, CancellationToken cancellationToken) => _connection.WaitForRoomAsync(bytes, cancellationToken);
}
