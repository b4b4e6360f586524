using EmitHub.Core.Fanout;

namespace EmitHub.Core.Channels;

/// <summary>
/// The latest messages of a channel, oldest first, each held by one reference. Used for <c>replay_last</c> and to
/// close the gap between a store replay and the live stream. Not thread-safe: callers hold the channel lock.
/// </summary>
internal sealed class MessageRing
{
    private readonly long _maxBytes;
    private readonly ByteBudget? _budget;
    private OutboundMessage?[] _items;
    private int _head;
    private int _count;
    private long _bytes;

    /// <param name="capacity">Most messages held.</param>
    /// <param name="maxBytes">Most bytes held; the oldest go first past it, so a channel of 1 MiB messages does not
    /// pin hundreds of MiB (the newest message is always kept, unless <paramref name="budget"/> refuses it).</param>
    /// <param name="budget">The server-wide bound this ring's bytes are charged to: past it the ring drops its own
    /// oldest messages, and when even an empty ring cannot take a message, the message is not held.</param>
    public MessageRing(int capacity, long maxBytes = long.MaxValue, ByteBudget? budget = null)
    {
        _items = new OutboundMessage?[Math.Max(capacity, 0)];
        _maxBytes = maxBytes;
        _budget = budget;
    }

    /// <summary>Bytes of the held frames.</summary>
    public long Bytes => _bytes;

    public int Capacity => _items.Length;

    public int Count => _count;

    /// <summary>Sequence of the oldest held message, or 0 when empty.</summary>
    public long OldestSequence => _count == 0 ? 0 : _items[_head]!.Sequence;

    /// <summary>Appends a message (taking a reference), releasing the oldest when full. Returns false when the
    /// budget could not take it even after this ring dropped everything it held: the ring is then empty.</summary>
    public bool Add(OutboundMessage message)
    {
        if (_items.Length == 0)
        {
            return true;
        }
        if (_count == _items.Length)
        {
            DropOldest();
        }
        if (_budget is { } budget)
        {
            while (!budget.TryCharge(message.Length))
            {
                if (_count == 0)
                {
                    return false;
                }
                DropOldest();
            }
        }
        message.AddRef();
        _items[(_head + _count) % _items.Length] = message;
        _count++;
        _bytes += message.Length;
        while (_bytes > _maxBytes && _count > 1)
        {
            DropOldest();
        }
        return true;
    }

    /// <summary>Releases the messages with a sequence below <paramref name="sequence"/> (retention pruned them).</summary>
    public void DropBefore(long sequence)
    {
        while (_count > 0 && _items[_head]!.Sequence < sequence)
        {
            DropOldest();
        }
    }

    private void DropOldest()
    {
        var oldest = _items[_head]!;
        _items[_head] = null;
        _head = (_head + 1) % _items.Length;
        _count--;
        _bytes -= oldest.Length;
        _budget?.Refund(oldest.Length);
        oldest.Release();
    }

    /// <summary>The held message at position <paramref name="index"/> (0 = oldest).</summary>
    public OutboundMessage this[int index] => _items[(_head + index) % _items.Length]!;

    /// <summary>True when the ring holds every sequence in (<paramref name="after"/>, <paramref name="last"/>];
    /// <paramref name="startIndex"/> is the position of <paramref name="after"/> + 1.</summary>
    public bool Covers(long after, long last, out int startIndex)
    {
        startIndex = 0;
        if (after >= last)
        {
            startIndex = _count;
            return true;
        }
        if (_count == 0 || OldestSequence > after + 1 || this[_count - 1].Sequence != last)
        {
            return false;
        }
        startIndex = (int)(after + 1 - OldestSequence);
        return true;
    }

    /// <summary>Changes the capacity, keeping the newest messages.</summary>
    public void Resize(int capacity)
    {
        capacity = Math.Max(capacity, 0);
        if (capacity == _items.Length)
        {
            return;
        }
        while (_count > capacity)
        {
            DropOldest();
        }
        var next = new OutboundMessage?[capacity];
        for (var i = 0; i < _count; i++)
        {
            next[i] = this[i];
        }
        _items = next;
        _head = 0;
    }

    /// <summary>Releases every held message.</summary>
    public void Clear()
    {
        for (var i = 0; i < _count; i++)
        {
            this[i].Release();
        }
        Array.Clear(_items);
        _head = 0;
        _count = 0;
        _budget?.Refund(_bytes);
        _bytes = 0;
    }
}
