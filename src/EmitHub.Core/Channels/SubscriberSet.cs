using EmitHub.Core.Fanout;

namespace EmitHub.Core.Channels;

/// <summary>
/// A channel's subscribers as a copy-on-write array: writers (join/leave, rare) copy under the channel's lock and
/// publish the new array with a volatile write; a broadcast reads one array reference and iterates it without any
/// lock and without allocating per subscriber.
/// </summary>
internal sealed class SubscriberSet
{
    private IChannelSubscriber[] _items = [];

    /// <summary>Current subscribers; the array is never mutated after publication.</summary>
    public IChannelSubscriber[] Snapshot => Volatile.Read(ref _items);

    /// <summary>Number of subscribers in the current snapshot.</summary>
    public int Count => Snapshot.Length;

    /// <summary>Adds a subscriber. Callers serialize writers (the channel lock).</summary>
    public void Add(IChannelSubscriber subscriber)
    {
        var current = _items;
        var next = new IChannelSubscriber[current.Length + 1];
        current.CopyTo(next, 0);
        next[^1] = subscriber;
        Volatile.Write(ref _items, next);
    }

    /// <summary>Removes a subscriber; returns false when it was not present. Callers serialize writers.</summary>
    public bool Remove(IChannelSubscriber subscriber)
    {
        var current = _items;
        var index = Array.IndexOf(current, subscriber);
        if (index < 0)
        {
            return false;
        }
        var next = new IChannelSubscriber[current.Length - 1];
        Array.Copy(current, 0, next, 0, index);
        Array.Copy(current, index + 1, next, index, current.Length - index - 1);
        Volatile.Write(ref _items, next);
        return true;
    }

    /// <summary>Removes everyone and returns who was there.</summary>
    public IChannelSubscriber[] Clear() => Interlocked.Exchange(ref _items, []);

    /// <summary>Offers <paramref name="message"/> to every subscriber; returns how many accepted it.</summary>
    public int Publish(OutboundMessage message)
    {
        var accepted = 0;
        foreach (var subscriber in Snapshot)
        {
            if (subscriber.TryEnqueue(message))
            {
                accepted++;
            }
        }
        return accepted;
    }
}
