using EmitHub.Core.Fanout;

namespace EmitHub.Tests.Fanout;

/// <summary>
/// The slot-array subscriber set (issue 10: O(1) joins and leaves): slot reuse, growth and compaction, subscribers in
/// several hubs, and the races the copy-on-write array used to settle by construction — max_connections under racing
/// joins, RemoveAll racing joins, publishes racing joins and leaves.
/// </summary>
public class ChannelHubSlotTests
{
    [Fact]
    public void Remove_then_readd_reaches_exactly_the_members_and_a_newcomer_fills_the_hole()
    {
        var hub = new ChannelHub();
        var a = new SequenceRecorder();
        var b = new SequenceRecorder();
        var c = new SequenceRecorder();
        Assert.True(hub.TryAdd(a));
        Assert.True(hub.TryAdd(b));
        Assert.True(hub.TryAdd(c));

        Assert.True(hub.Remove(b));
        Assert.Equal(2, Publish(hub, 1));
        Assert.True(hub.TryAdd(b));
        Assert.False(hub.TryAdd(b));
        Assert.Equal(3, hub.Count);
        Assert.Equal(3, Publish(hub, 2));

        Assert.Equal([1, 2], a.Seen);
        Assert.Equal([2], b.Seen);
        Assert.Equal([1, 2], c.Seen);

        // b went back into its own slot; a newcomer after a's leave takes a's, so the array did not grow.
        Assert.Equal([a, b, c], hub.ToArray());
        var d = new SequenceRecorder();
        Assert.True(hub.Remove(a));
        Assert.True(hub.TryAdd(d));
        Assert.Equal([d, b, c], hub.ToArray());
        Assert.Equal(3, Publish(hub, 3));
        Assert.Equal([1, 2], a.Seen);
        Assert.Equal([3], d.Seen);
    }

    [Fact]
    public void Growing_to_thousands_and_shrinking_back_keeps_exactly_the_members()
    {
        var hub = new ChannelHub();
        var all = Enumerable.Range(0, 5000).Select(_ => new SequenceRecorder()).ToArray();
        foreach (var s in all)
        {
            Assert.True(hub.TryAdd(s));
        }
        // Leave all but every 500th: enough leaves to make the hub compact more than once on the way down.
        var stay = all.Where((_, i) => i % 500 == 0).ToArray();
        foreach (var s in all.Except(stay))
        {
            Assert.True(hub.Remove(s));
        }
        Assert.Equal(stay.Length, hub.Count);
        Assert.Equal(stay.Length, Publish(hub, 1));
        Assert.All(stay, s => Assert.Equal([1], s.Seen));
        Assert.All(all.Except(stay), s => Assert.Empty(s.Seen));

        // Leaving twice and joining twice are still refused after the moves.
        Assert.False(hub.Remove(all[1]));
        Assert.False(hub.TryAdd(stay[3]));

        var late = Enumerable.Range(0, 700).Select(_ => new SequenceRecorder()).ToArray();
        foreach (var s in late)
        {
            Assert.True(hub.TryAdd(s));
        }
        Assert.Equal(stay.Length + late.Length, Publish(hub, 2));
        var removed = hub.RemoveAll();
        Assert.Equal(stay.Concat(late).ToHashSet<IChannelSubscriber>(), removed.ToHashSet());
        Assert.Equal(removed.Length, removed.Distinct().Count());
        Assert.Equal(0, hub.Count);
        Assert.Equal(0, Publish(hub, 3));
        Assert.All(late, s => Assert.Equal([2], s.Seen));

        // The emptied hub works again.
        Assert.True(hub.TryAdd(all[0]));
        Assert.Equal(1, Publish(hub, 4));
        Assert.Equal([1, 2, 4], all[0].Seen);
    }

    [Fact]
    public void A_subscriber_in_two_hubs_has_a_separate_membership_in_each()
    {
        var first = new ChannelHub();
        var second = new ChannelHub();
        var shared = new SequenceRecorder();
        var onlyFirst = Enumerable.Range(0, 3).Select(_ => new SequenceRecorder()).ToArray();
        var onlySecond = new SequenceRecorder();
        // Different positions in the two hubs, so a slot remembered per subscriber would point at the wrong one.
        foreach (var s in onlyFirst)
        {
            first.TryAdd(s);
        }
        Assert.True(first.TryAdd(shared));
        Assert.True(second.TryAdd(shared));
        Assert.True(second.TryAdd(onlySecond));

        Assert.True(first.Remove(shared));
        Assert.False(first.Remove(shared));
        Assert.Equal(2, Publish(second, 10));
        Assert.Equal([10], shared.Seen);
        Assert.Equal([10], onlySecond.Seen);
        Assert.Equal(3, Publish(first, 11));
        Assert.Equal([10], shared.Seen);

        Assert.True(first.TryAdd(shared));
        Assert.Equal(new IChannelSubscriber[] { shared, onlySecond }, second.RemoveAll());
        Assert.Equal(0, second.Count);
        Assert.Equal(4, Publish(first, 12));
        Assert.Equal([10, 12], shared.Seen);
        Assert.True(first.Remove(shared));
        Assert.Equal(3, first.Count);
    }

    [Fact]
    public async Task Eight_threads_racing_joins_and_leaves_never_pass_the_maximum()
    {
        const int max = 40;
        const int threads = 8;
        var hub = new ChannelHub();
        using var start = new Barrier(threads);

        // First every thread only joins: exactly max of them get in.
        var joined = await Task.WhenAll(Enumerable.Range(0, threads).Select(_ => OnThread(() =>
        {
            start.SignalAndWait();
            var mine = new List<SequenceRecorder>();
            for (var i = 0; i < 100; i++)
            {
                var s = new SequenceRecorder();
                if (hub.TryAdd(s, max))
                {
                    mine.Add(s);
                }
            }
            return mine;
        })));
        Assert.Equal(max, joined.Sum(m => m.Count));
        Assert.Equal(max, hub.Count);

        // Then they churn: every thread keeps leaving one of its own and trying a fresh join. The members counted
        // below never pass max (a join counts itself after TryAdd, a leave uncounts itself before Remove).
        var members = max;
        var peak = 0;
        await Task.WhenAll(joined.Select(mine => OnThread(() =>
        {
            start.SignalAndWait();
            for (var i = 0; i < 20_000; i++)
            {
                if (mine.Count > 0 && (i & 1) == 0)
                {
                    Interlocked.Decrement(ref members);
                    Assert.True(hub.Remove(mine[^1]));
                    mine.RemoveAt(mine.Count - 1);
                }
                var s = new SequenceRecorder();
                if (hub.TryAdd(s, max))
                {
                    mine.Add(s);
                    var now = Interlocked.Increment(ref members);
                    InterlockedMax(ref peak, now);
                }
                Assert.InRange(hub.Count, 0, max);
            }
        })));
        Assert.InRange(peak, 1, max);
        Assert.Equal(joined.Sum(m => m.Count), hub.Count);
        Assert.Equal(joined.SelectMany(m => m).ToHashSet<IChannelSubscriber>(), hub.ToArray().ToHashSet());
    }

    [Fact]
    public async Task Remove_all_racing_joins_hands_back_every_joiner_exactly_once_or_keeps_it()
    {
        const int adders = 7;
        const int perAdder = 3000;
        var hub = new ChannelHub();
        using var start = new Barrier(adders + 1);
        var added = new SequenceRecorder[adders][];
        var adding = Enumerable.Range(0, adders).Select(t => OnThread(() =>
        {
            added[t] = Enumerable.Range(0, perAdder).Select(_ => new SequenceRecorder()).ToArray();
            start.SignalAndWait();
            foreach (var s in added[t])
            {
                Assert.True(hub.TryAdd(s));
            }
        })).ToArray();

        var handedBack = new List<IChannelSubscriber>();
        var drains = 0;
        await OnThread(() =>
        {
            start.SignalAndWait();
            while (!adding.All(t => t.IsCompleted))
            {
                handedBack.AddRange(hub.RemoveAll());
                drains++;
            }
        });
        await Task.WhenAll(adding);
        var left = hub.RemoveAll();
        handedBack.AddRange(left);

        var expected = added.SelectMany(a => a).ToArray();
        Assert.Equal(expected.Length, handedBack.Count);
        Assert.Equal(expected.ToHashSet<IChannelSubscriber>(), handedBack.ToHashSet());
        Assert.Equal(0, hub.Count);
        Assert.True(drains > 0);
    }

    [Fact]
    public async Task Publishes_racing_joins_and_leaves_never_reach_a_leaver_after_it_left_nor_anyone_twice()
    {
        const int messages = 4000;
        var hub = new ChannelHub();
        var stable = Enumerable.Range(0, 16).Select(_ => new SequenceRecorder()).ToArray();
        foreach (var s in stable)
        {
            hub.TryAdd(s);
        }

        long started = 0; // the sequence of the publish that has started last
        using var stop = new CancellationTokenSource();
        var churners = Enumerable.Range(0, 3).Select(_ => OnThread(() =>
        {
            var left = new List<(SequenceRecorder Subscriber, long LastStarted)>();
            var mine = new Queue<SequenceRecorder>();
            while (!stop.IsCancellationRequested)
            {
                // A burst of joins then leaves, so the hub grows, reuses slots and compacts under the publisher.
                for (var i = 0; i < 64; i++)
                {
                    var s = new SequenceRecorder();
                    Assert.True(hub.TryAdd(s));
                    mine.Enqueue(s);
                }
                while (mine.Count > 8)
                {
                    var s = mine.Dequeue();
                    Assert.True(hub.Remove(s));
                    // Publishes with a later sequence start after this leave returned.
                    left.Add((s, Interlocked.Read(ref started)));
                }
            }
            foreach (var s in mine)
            {
                Assert.True(hub.Remove(s));
                left.Add((s, Interlocked.Read(ref started)));
            }
            return left;
        })).ToArray();

        await OnThread(() =>
        {
            for (var i = 1; i <= messages; i++)
            {
                Interlocked.Exchange(ref started, i);
                var message = OutboundMessage.Copy([(byte)i], i);
                Assert.InRange(hub.Publish(message), stable.Length, int.MaxValue);
                message.Release();
            }
        });
        await stop.CancelAsync();
        var leavers = (await Task.WhenAll(churners)).SelectMany(l => l).ToArray();

        Assert.All(stable, s => Assert.Equal(Enumerable.Range(1, messages).Select(i => (long)i), s.Seen));
        Assert.Equal(stable.Length, hub.Count);
        Assert.True(leavers.Length > 100, $"only {leavers.Length} leavers: the churn did not overlap the publishes");
        foreach (var (subscriber, lastStarted) in leavers)
        {
            var seen = subscriber.Seen;
            Assert.All(seen, sequence => Assert.InRange(sequence, 1, lastStarted));
            Assert.Equal(seen.Distinct().Count(), seen.Count);
            Assert.Equal(seen.Order(), seen); // in order, as the single publisher sent them
        }
    }

    /// <summary>A dedicated thread, so racing threads that meet at a barrier do not wait for the pool to grow.</summary>
    private static Task OnThread(Action body) =>
        Task.Factory.StartNew(body, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static Task<T> OnThread<T>(Func<T> body) =>
        Task.Factory.StartNew(body, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static int Publish(ChannelHub hub, long sequence)
    {
        var message = OutboundMessage.Copy("m"u8, sequence);
        var recipients = hub.Publish(message);
        message.Release();
        return recipients;
    }

    private static void InterlockedMax(ref int location, int value)
    {
        var current = Volatile.Read(ref location);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref location, value, current);
            if (seen == current)
            {
                return;
            }
            current = seen;
        }
    }

    /// <summary>Records the sequence of every message offered to it. Keeps no reference to a message, so takes none.
    /// Only one publisher calls it at a time (Core publishes a channel under its lock; the tests have one publisher).</summary>
    private sealed class SequenceRecorder : IChannelSubscriber
    {
        private readonly List<long> _seen = [];

        public Guid ConnectionId { get; } = Guid.NewGuid();

        public List<long> Seen
        {
            get
            {
                lock (_seen)
                {
                    return [.. _seen];
                }
            }
        }

        public bool TryEnqueue(OutboundMessage message)
        {
            lock (_seen)
            {
                _seen.Add(message.Sequence);
            }
            return true;
        }

        public void Close(SubscriberCloseReason reason)
        {
        }
    }
}
