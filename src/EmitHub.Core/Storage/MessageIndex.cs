namespace EmitHub.Core.Storage;

/// <summary>Where one stored message lives: its sequence, log address, entry length and time (for retention).</summary>
internal struct MessageIndexEntry
{
    public long Sequence;
    public long Address;
    public long TimestampUtcTicks;
    public int Length;
}

/// <summary>
/// One channel's messages in sequence order, as a growable ring so retention drops from the front in O(1) and a
/// read is a binary search (a seek, not a scan). Not thread-safe: the store guards it with its lock.
/// </summary>
internal sealed class MessageIndex
{
    private MessageIndexEntry[] _items = new MessageIndexEntry[16];
    private int _head;

    public int Count { get; private set; }

    /// <summary>Sum of the entry lengths (the live bytes this channel holds in the log).</summary>
    public long LiveBytes { get; private set; }

    public ref MessageIndexEntry this[int index] => ref _items[(_head + index) % _items.Length];

    public long LastSequence => Count == 0 ? 0 : this[Count - 1].Sequence;

    public long FirstSequence => Count == 0 ? 0 : this[0].Sequence;

    /// <summary>Adds an entry; sequences must grow.</summary>
    public void Add(in MessageIndexEntry entry)
    {
        if (Count == _items.Length)
        {
            var grown = new MessageIndexEntry[_items.Length * 2];
            for (var i = 0; i < Count; i++)
            {
                grown[i] = this[i];
            }
            _items = grown;
            _head = 0;
        }
        _items[(_head + Count) % _items.Length] = entry;
        Count++;
        LiveBytes += entry.Length;
    }

    /// <summary>Drops the <paramref name="count"/> oldest entries.</summary>
    public void RemoveFirst(int count)
    {
        for (var i = 0; i < count; i++)
        {
            LiveBytes -= this[i].Length;
        }
        _head = (_head + count) % _items.Length;
        Count -= count;
        if (Count == 0)
        {
            _head = 0;
        }
    }

    /// <summary>Index of the first entry with a sequence greater than <paramref name="sequence"/> (Count if none).</summary>
    public int FindFirstAfter(long sequence)
    {
        int lo = 0, hi = Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (this[mid].Sequence <= sequence)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        return lo;
    }
}
