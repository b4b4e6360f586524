using System.Threading.Channels;
using EmitHub.Core.Channels;
using EmitHub.Core.Fanout;
using EmitHub.Net.Auth;
using EmitHub.Net.WebSockets;

namespace EmitHub.Net.Multiplex;

/// <summary>
/// The client side of <c>GET /api/v1/ws</c>: one WebSocket, many channels. The client sends operations as JSON text
/// messages and every envelope it receives carries its <c>channel_id</c>:
/// <code>
/// {"op":"subscribe","channel":"&lt;id&gt;","after":41,"epoch":"…","token":"&lt;jwt&gt;"}   → connected (or denied) for that channel
/// {"op":"unsubscribe","channel":"&lt;id&gt;"}                                    → unsubscribed
/// {"op":"publish","channel":"&lt;id&gt;","message":"text"}                       → client_message (where allowed)
/// </code>
/// Each subscription keeps every WebSocket rule (replay_last, ?after= recovery, denied, paused, stopped, private
/// tokens, client-message rate limits), but its refusals and ends are envelopes for that channel, never a close of
/// the socket. A bad operation gets an <c>error</c> envelope (its <c>channel_id</c> null when no channel applies).
/// At most <c>[websocket] max_subscriptions</c> channels at once. Operations run one at a time, in order, off the
/// receive loop (a subscribe may replay from the store); at most <see cref="MaxPendingOperations"/> wait, past that
/// the socket is closed 1008.
/// </summary>
public sealed class MultiplexSession : IAsyncDisposable
{
    /// <summary>Operations that may wait behind a slow one (a subscribe replaying from the store).</summary>
    public const int MaxPendingOperations = 64;

    private readonly ChannelRegistry _registry;
    private readonly ISubscriberTokenValidator _tokens;
    private readonly WebSocketOutbox _outbox;
    private readonly int _maxSubscriptions;
    private readonly CancellationToken _stopping;
    private readonly Dictionary<Guid, (MultiplexMembership Membership, Subscription? Subscription)> _subscriptions = new();
    private readonly Lock _gate = new();
    private readonly Channel<string> _operations = Channel.CreateBounded<string>(new BoundedChannelOptions(MaxPendingOperations) { SingleReader = true });
    private readonly Task _loop;

    /// <summary>Starts the session over the connection's outbox.</summary>
    public MultiplexSession(ChannelRegistry registry, ISubscriberTokenValidator tokens, WebSocketOutbox outbox, int maxSubscriptions, CancellationToken stopping)
    {
        _registry = registry;
        _tokens = tokens;
        _outbox = outbox;
        _maxSubscriptions = maxSubscriptions;
        _stopping = stopping;
        _loop = Task.Run(RunAsync, CancellationToken.None);
    }

    /// <summary>Number of channels subscribed now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _subscriptions.Count;
            }
        }
    }

    /// <summary>Receive loop: one client text message (an operation). Never blocks; a flood closes the socket 1008.</summary>
    public void OnText(string text)
    {
        if (!_operations.Writer.TryWrite(text))
        {
            _outbox.Close(WebSocketCloseCodes.PolicyViolation, $"More than {MaxPendingOperations} operations are waiting; send fewer at once.");
        }
    }

    private async Task RunAsync()
    {
        await foreach (var text in _operations.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                await HandleAsync(text).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async ValueTask HandleAsync(string text)
    {
        if (!MultiplexOperation.TryParse(text, out var op, out var error))
        {
            Send(MultiplexEnvelopes.Error(null, error!));
            return;
        }
        switch (op.Kind)
        {
            case MultiplexOperationKind.Subscribe:
                await SubscribeAsync(op).ConfigureAwait(false);
                break;
            case MultiplexOperationKind.Unsubscribe:
                Unsubscribe(op.Channel);
                break;
            case MultiplexOperationKind.Publish:
                Publish(op);
                break;
        }
    }

    private async ValueTask SubscribeAsync(MultiplexOperation op)
    {
        var id = op.Channel;
        lock (_gate)
        {
            if (_subscriptions.ContainsKey(id))
            {
                Send(MultiplexEnvelopes.Error(id, $"Already subscribed to channel {id}; unsubscribe first to subscribe again with another position."));
                return;
            }
            if (_subscriptions.Count >= _maxSubscriptions)
            {
                Send(MultiplexEnvelopes.Error(id,
                    $"Subscription cap reached: at most {_maxSubscriptions} channels per connection ([websocket] max_subscriptions); unsubscribe from one first."));
                return;
            }
        }
        if (_registry.Get(id) is not { } channel)
        {
            Send(MultiplexEnvelopes.Error(id, $"Channel {id} does not exist."));
            return;
        }
        var access = await _tokens.AuthorizeAsync(channel, op.Token).ConfigureAwait(false);
        if (!access.IsAllowed)
        {
            // The same refusal the WebSocket upgrade answers with 401/403, as a denied envelope for this channel only.
            Send(MultiplexEnvelopes.Build("denied", id, access.Error ?? "A valid subscriber token is required for this channel."));
            return;
        }

        var membership = new MultiplexMembership(id, _outbox, OnMembershipEnded);
        lock (_gate)
        {
            _subscriptions[id] = (membership, null);
        }
        var joined = await WebSocketEndpoint.JoinAsync(_registry, id, membership, op.After, op.Epoch, access.Subject, _stopping).ConfigureAwait(false);
        lock (_gate)
        {
            if (joined is { } subscription)
            {
                if (_subscriptions.TryGetValue(id, out var entry) && ReferenceEquals(entry.Membership, membership) && !membership.IsClosed)
                {
                    _subscriptions[id] = (membership, subscription);
                    return;
                }
                subscription.Dispose();
            }
            if (_subscriptions.TryGetValue(id, out var current) && ReferenceEquals(current.Membership, membership))
            {
                _subscriptions.Remove(id);
            }
        }
    }

    // Core ended one channel (denied, stopped, deleted): that membership leaves; the socket stays.
    private void OnMembershipEnded(MultiplexMembership membership)
    {
        Subscription? subscription = null;
        lock (_gate)
        {
            if (_subscriptions.TryGetValue(membership.ChannelId, out var entry) && ReferenceEquals(entry.Membership, membership))
            {
                subscription = entry.Subscription;
                _subscriptions.Remove(membership.ChannelId);
            }
        }
        subscription?.Dispose();
    }

    private void Unsubscribe(Guid id)
    {
        (MultiplexMembership Membership, Subscription? Subscription) entry;
        lock (_gate)
        {
            if (!_subscriptions.Remove(id, out entry))
            {
                Send(MultiplexEnvelopes.Error(id, $"Not subscribed to channel {id}."));
                return;
            }
        }
        entry.Membership.MarkClosed();
        entry.Subscription?.Dispose();
        Send(MultiplexEnvelopes.Build("unsubscribed", id, $"Unsubscribed from channel {id}"));
    }

    private void Publish(MultiplexOperation op)
    {
        Subscription? subscription;
        lock (_gate)
        {
            subscription = _subscriptions.TryGetValue(op.Channel, out var entry) ? entry.Subscription : null;
        }
        if (subscription is null)
        {
            Send(MultiplexEnvelopes.Error(op.Channel, $"Subscribe to channel {op.Channel} before publishing to it."));
            return;
        }
        subscription.OnClientText(op.Message!);
    }

    private void Send(OutboundMessage message)
    {
        _outbox.TryEnqueue(message);
        message.Release();
    }

    /// <summary>Stops taking operations and leaves every channel (the connection ended).</summary>
    public async ValueTask DisposeAsync()
    {
        _operations.Writer.TryComplete();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        List<(MultiplexMembership, Subscription?)> entries;
        lock (_gate)
        {
            entries = [.. _subscriptions.Values];
            _subscriptions.Clear();
        }
        foreach (var (membership, subscription) in entries)
        {
            membership.MarkClosed();
            subscription?.Dispose();
        }
    }
}
