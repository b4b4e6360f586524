using EmitHub.Core.Fanout;

namespace EmitHub.Core.Channels;

/// <summary>
/// The latest messages of a channel, oldest first, each held by one reference. Used for <c>replay_last</c> and to
/// close the gap between a store replay and the live stream. Not thread-safe: callers hold the channel lock.
/// </summary>
internal sealed class MessageRing
{
    private OutboundMessage?[] _items;
    private int _head;
    private int _count;

    public MessageRing(int capacity) => _items = new OutboundMessage?[Math.Max(capacity, 0)];

    public int Capacity => _items.Length;

    public int Count => _count;

    /// <summary>Sequence of the oldest held message, or 0 when empty.</summary>
    public long OldestSequence => _count == 0 ? 0 : _items[_head]!.Sequence;

    /// <summary>Appends a message (taking a reference), releasing the oldest when full.</summary>
    public void Add(OutboundMessage message)
    {
        if (_items.Length == 0)
        {
            return;
        }
        message.AddRef();
        var tail = (_head + _count) % _items.Length;
        if (_count == _items.Length)
        {
            _items[_head]!.Release();
            _items[_head] = message;
            _head = (_head + 1) % _items.Length;
        }
        else
        {
            _items[tail] = message;
            _count++;
        }
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
        var next = new OutboundMessage?[capacity];
        var keep = Math.Min(_count, capacity);
        for (var i = 0; i < _count - keep; i++)
        {
            this[i].Release();
        }
        for (var i = 0; i < keep; i++)
        {
            next[i] = this[_count - keep + i];
        }
        _items = next;
        _head = 0;
        _count = keep;
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
    }
}
