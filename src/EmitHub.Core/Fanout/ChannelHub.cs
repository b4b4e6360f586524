namespace EmitHub.Core.Fanout;

/// <summary>
/// The subscriber set of one channel. Publishing reads an immutable <see cref="IChannelSubscriber"/> array without
/// locks; <see cref="TryAdd"/> and <see cref="Remove"/> build a new array and swap it in with
/// <see cref="Interlocked.CompareExchange{T}(ref T, T, T)"/> (copy-on-write: subscriptions change rarely, broadcasts
/// are frequent). A publish that races an add or remove sees the set either before or after the change.
/// Publishing allocates nothing per subscriber: each subscriber's queue takes a reference to the one shared frame.
/// </summary>
public sealed class ChannelHub
{
    private IChannelSubscriber[] _subscribers = [];

    /// <summary>Number of subscribers now.</summary>
    public int Count => Volatile.Read(ref _subscribers).Length;

    /// <summary>The current subscribers (an immutable snapshot; later changes make a new array).</summary>
    public ReadOnlySpan<IChannelSubscriber> Snapshot => Volatile.Read(ref _subscribers);

    /// <summary>
    /// Adds <paramref name="subscriber"/> unless the set already holds <paramref name="maxSubscribers"/> (the channel's
    /// <c>max_connections</c>) or the subscriber itself. The check and the add are one atomic swap, so concurrent
    /// handshakes can never push the count past the maximum. Returns false when full or already present.
    /// </summary>
    public bool TryAdd(IChannelSubscriber subscriber, int maxSubscribers = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        var current = Volatile.Read(ref _subscribers);
        while (true)
        {
            if (current.Length >= maxSubscribers || Array.IndexOf(current, subscriber) >= 0)
            {
                return false;
            }
            var next = new IChannelSubscriber[current.Length + 1];
            current.CopyTo(next, 0);
            next[^1] = subscriber;
            var seen = Interlocked.CompareExchange(ref _subscribers, next, current);
            if (ReferenceEquals(seen, current))
            {
                return true;
            }
            current = seen;
        }
    }

    /// <summary>Removes <paramref name="subscriber"/>; returns false when it was not present. Lock-free.</summary>
    public bool Remove(IChannelSubscriber subscriber)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        var current = Volatile.Read(ref _subscribers);
        while (true)
        {
            var index = Array.IndexOf(current, subscriber);
            if (index < 0)
            {
                return false;
            }
            IChannelSubscriber[] next;
            if (current.Length == 1)
            {
                next = [];
            }
            else
            {
                next = new IChannelSubscriber[current.Length - 1];
                Array.Copy(current, 0, next, 0, index);
                Array.Copy(current, index + 1, next, index, current.Length - index - 1);
            }
            var seen = Interlocked.CompareExchange(ref _subscribers, next, current);
            if (ReferenceEquals(seen, current))
            {
                return true;
            }
            current = seen;
        }
    }

    /// <summary>
    /// Offers <paramref name="message"/> to every current subscriber and returns how many accepted it (the REST
    /// broadcast's <c>recipients</c>). Each accepting subscriber takes its own reference; the caller keeps its own and
    /// must still release it. A subscriber that refuses (closing, or a slow consumer that now closes itself 1008) is
    /// skipped; it leaves the set when its connection ends. No locks, no allocation.
    /// </summary>
    public int Publish(OutboundMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var subscribers = Volatile.Read(ref _subscribers);
        var recipients = 0;
        foreach (var subscriber in subscribers)
        {
            if (subscriber.TryEnqueue(message))
            {
                recipients++;
            }
        }
        return recipients;
    }

    /// <summary>
    /// Empties the set in one atomic swap and returns who was in it, so the caller can close each (1001 on stop,
    /// delete or shutdown, after the <c>stopped</c> envelope). A concurrent <see cref="TryAdd"/> lands either in
    /// the returned array or in the new, empty set — never lost.
    /// </summary>
    public IChannelSubscriber[] RemoveAll() => Interlocked.Exchange(ref _subscribers, []);
}
