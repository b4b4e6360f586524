using System.Runtime.InteropServices;

namespace EmitHub.Core.Fanout;

/// <summary>
/// The subscriber set of one channel. A join or leave costs O(1) amortized whatever the channel's size; publishing
/// stays lock-free and allocates nothing per subscriber (each subscriber's queue takes a reference to the one shared
/// frame).
/// </summary>
/// <remarks>
/// <para>
/// Layout: a slot array that <see cref="Publish"/> walks without locks, skipping empty (null) slots. A writer
/// (<see cref="TryAdd"/>, <see cref="Remove"/>, <see cref="RemoveAll"/>) takes a small lock — in production Core
/// already serializes them under the channel's lock, so it is never contended — and finds a subscriber's slot in a
/// dictionary keyed by reference, not in the subscriber: one connection may be in several hubs at once, each with its
/// own slot. A leave empties the slot and pushes its index on a free list; a join pops a free index, or takes the
/// next never-used slot, doubling the array when it is full. The array was copy-on-write until issue 10: a storm of
/// N reconnects then copied O(N²) references.
/// </para>
/// <para>
/// Publishers read the array reference once and walk that array. An array that was replaced (by a doubling, a
/// compaction or <see cref="RemoveAll"/>) is never written again, so a publisher still walking it sees a frozen,
/// duplicate-free set. In every array the slots past the writer's high-water mark are null, so a walker never needs
/// the mark. When fewer than a quarter of the slots are in use the writer copies the members into an array half
/// full; the copy costs O(slots) and is paid for by the ≥ slots/2 leaves since the last resize.
/// </para>
/// <para>
/// Races, as before: a publish that runs while a subscriber joins or leaves may or may not reach it; a publish that
/// starts after a join returned reaches the subscriber, and one that starts after a leave returned does not. A
/// subscriber that stays in the set is offered every message exactly once. One race is new: the same subscriber
/// object removed and re-added while one publish walks the array may land in a later slot and be offered that one
/// message twice; Core never re-adds an object (every join and every multiplexed subscribe is a fresh subscriber).
/// </para>
/// </remarks>
public sealed class ChannelHub
{
    /// <summary>Slots of the first array; also the smallest array a compaction leaves.</summary>
    private const int MinCapacity = 4;

    private static readonly IChannelSubscriber?[] NoSlots = [];

    private readonly Lock _writer = new();

    /// <summary>Read by publishers without the lock; replaced (never mutated afterwards) by the writer.</summary>
    private IChannelSubscriber?[] _slots = NoSlots;

    /// <summary>Writer-only: slots at or past this index in <see cref="_slots"/> were never used.</summary>
    private int _highWater;

    /// <summary>Writer-only: each member's slot in <see cref="_slots"/>.</summary>
    private Dictionary<IChannelSubscriber, int> _index = new(ReferenceEqualityComparer.Instance);

    /// <summary>Writer-only: a stack of the empty slot indexes below <see cref="_highWater"/>.</summary>
    private int[] _free = [];
    private int _freeCount;

    private int _count;

    /// <summary>Number of subscribers now (read without the lock).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>
    /// The current subscribers, copied into a new array in slot order (O(N) and one allocation: for rare paths
    /// such as a queued stop that must later close exactly the members it found).
    /// </summary>
    public IChannelSubscriber[] ToArray()
    {
        lock (_writer)
        {
            return Members();
        }
    }

    /// <summary>
    /// Adds <paramref name="subscriber"/> unless the set already holds <paramref name="maxSubscribers"/> (the channel's
    /// <c>max_connections</c>) or the subscriber itself. The check and the add happen under one lock, so concurrent
    /// handshakes can never push the count past the maximum. Returns false when full or already present. O(1)
    /// amortized; allocates only when the slot array or the index grows.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="subscriber"/> is null.</exception>
    public bool TryAdd(IChannelSubscriber subscriber, int maxSubscribers = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        lock (_writer)
        {
            if (_count >= maxSubscribers)
            {
                return false;
            }
            ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_index, subscriber, out var present);
            if (present)
            {
                return false;
            }
            if (_freeCount > 0)
            {
                slot = _free[--_freeCount];
            }
            else
            {
                if (_highWater == _slots.Length)
                {
                    Resize(Math.Max(MinCapacity, _slots.Length * 2));
                }
                slot = _highWater++;
            }
            // A release store: a publisher that reads the reference sees a fully built subscriber.
            Volatile.Write(ref _slots[slot], subscriber);
            Volatile.Write(ref _count, _count + 1);
            return true;
        }
    }

    /// <summary>
    /// Removes <paramref name="subscriber"/>; returns false when it was not present. O(1) amortized; a publish that
    /// starts after this returns does not reach the subscriber.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="subscriber"/> is null.</exception>
    public bool Remove(IChannelSubscriber subscriber)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        lock (_writer)
        {
            if (!_index.Remove(subscriber, out var slot))
            {
                return false;
            }
            Volatile.Write(ref _slots[slot], null);
            Volatile.Write(ref _count, _count - 1);
            if (_slots.Length > MinCapacity && _count < _slots.Length / 4)
            {
                // Mostly holes: walking them would cost every publish, and the array and index would keep a
                // reconnect storm's peak memory forever.
                Resize(Math.Max(MinCapacity, _count * 2));
                _index.TrimExcess();
            }
            else
            {
                if (_freeCount == _free.Length)
                {
                    Array.Resize(ref _free, Math.Max(MinCapacity, _free.Length * 2));
                }
                _free[_freeCount++] = slot;
            }
            return true;
        }
    }

    /// <summary>
    /// Offers <paramref name="message"/> to every current subscriber and returns how many accepted it (the REST
    /// broadcast's <c>recipients</c>). Each accepting subscriber takes its own reference; the caller keeps its own and
    /// must still release it. A subscriber that refuses (closing, or a slow consumer that now closes itself 1008) is
    /// skipped; it leaves the set when its connection ends. No locks, no allocation; the walk costs O(slots): at most
    /// four times the members, or the four slots of the smallest array (see the remarks).
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="message"/> is null.</exception>
    public int Publish(OutboundMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        // Acquire: the slots written before this array was published are visible. The per-slot loads need no fence:
        // each subscriber reference was stored with release semantics and its fields are reached through it.
        var slots = Volatile.Read(ref _slots);
        var recipients = 0;
        foreach (var subscriber in slots)
        {
            if (subscriber is not null && subscriber.TryEnqueue(message))
            {
                recipients++;
            }
        }
        return recipients;
    }

    /// <summary>
    /// Empties the set at once and returns who was in it, each exactly once, so the caller can close each (1001 on
    /// stop, delete or shutdown, after the <c>stopped</c> envelope). A concurrent <see cref="TryAdd"/> lands either
    /// in the returned array or in the new, empty set — never lost. The emptied set drops its arrays.
    /// </summary>
    public IChannelSubscriber[] RemoveAll()
    {
        lock (_writer)
        {
            if (_count == 0)
            {
                return [];
            }
            var members = Members();
            Volatile.Write(ref _slots, NoSlots);
            _highWater = 0;
            _index = new Dictionary<IChannelSubscriber, int>(ReferenceEqualityComparer.Instance);
            _free = [];
            _freeCount = 0;
            Volatile.Write(ref _count, 0);
            return members;
        }
    }

    /// <summary>The members in slot order. Caller holds the writer lock.</summary>
    private IChannelSubscriber[] Members()
    {
        if (_count == 0)
        {
            return [];
        }
        var members = new IChannelSubscriber[_count];
        var n = 0;
        for (var i = 0; i < _highWater; i++)
        {
            if (_slots[i] is { } subscriber)
            {
                members[n++] = subscriber;
            }
        }
        return members;
    }

    /// <summary>
    /// Moves the members, packed in slot order, into a new array of <paramref name="capacity"/> slots and publishes
    /// it; the old array is left as it is for publishers still walking it. Caller holds the writer lock.
    /// </summary>
    private void Resize(int capacity)
    {
        var next = new IChannelSubscriber?[capacity];
        var n = 0;
        for (var i = 0; i < _highWater; i++)
        {
            if (_slots[i] is { } subscriber)
            {
                next[n] = subscriber;
                if (n != i)
                {
                    _index[subscriber] = n;
                }
                n++;
            }
        }
        _highWater = n;
        _freeCount = 0;
        if (_free.Length > capacity)
        {
            _free = [];
        }
        // Release: publishers that read the new array see every slot written above.
        Volatile.Write(ref _slots, next);
    }
}
