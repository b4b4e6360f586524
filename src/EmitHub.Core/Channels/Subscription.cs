using EmitHub.Core.Cluster;
using EmitHub.Core.Fanout;

namespace EmitHub.Core.Channels;

/// <summary>
/// A live membership of one connection in one channel. The connection passes its text messages to
/// <see cref="OnClientText"/> and disposes the subscription when it closes. Not thread-safe per instance:
/// one connection's receive loop drives it.
/// </summary>
public sealed class Subscription : IDisposable
{
    private readonly ChannelRegistry _registry;
    private readonly Channel _channel;
    private readonly IClusterFollowLease? _follow;
    private GcraRateLimiter? _clientLimiter;
    private int _disposed;

    internal Subscription(ChannelRegistry registry, Channel channel, IChannelSubscriber subscriber, IClusterFollowLease? follow)
    {
        _registry = registry;
        _channel = channel;
        _follow = follow;
        Subscriber = subscriber;
    }

    /// <summary>The channel's id.</summary>
    public Guid ChannelId => _channel.Id;

    /// <summary>The connection.</summary>
    public IChannelSubscriber Subscriber { get; }

    /// <summary><c>data.sender</c> of this connection's <c>client_message</c> envelopes: <c>"client"</c> (the seed's
    /// value), or the <c>sub</c> claim of the subscriber token it presented.</summary>
    public string Sender { get; set; } = "client";

    /// <summary>
    /// Handles one complete text message from the client: relays it as <c>client_message</c> when the channel
    /// allows it and the connection is within <c>rate_limit_per_minute</c>, else enqueues an <c>error</c> envelope
    /// to this connection only (the connection stays open).
    /// </summary>
    public void OnClientText(string text)
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            _registry.OnClientText(_channel, Subscriber, Sender, text, ref _clientLimiter);
        }
    }

    /// <summary>Leaves the channel (idempotent); on a cluster node, releases this subscriber's hold on the channel's
    /// follower (the node stops following <c>unfollow_delay</c> after its last subscriber left).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // Released before the slot, so once stats.connections shows the client gone its lease is gone too.
            _follow?.Dispose();
            _registry.Unsubscribe(_channel, Subscriber);
        }
    }
}
