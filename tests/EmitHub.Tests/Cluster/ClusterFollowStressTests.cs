using System.Collections.Concurrent;
using EmitHub.Cluster;
using EmitHub.Core.Cluster;
using EmitHub.Core.Configuration;
using EmitHub.Core.Storage;
using EmitHub.Tests.Persistence;
using EmitHub.Tests.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace EmitHub.Tests.Cluster;

/// <summary>
/// The follow leases of <see cref="JetStreamClusterStore"/> under churn, on a real nats-server: many tasks take and
/// release leases on a few channels with <c>unfollow_delay</c> 0 (so followers stop and restart all the time) while
/// messages are appended. The sink checks what a registry relies on: one follower per channel at a time (no
/// overlapping callbacks, no message between a stop and the next start), gap-free sequences after each start, a
/// held lease's follower is running and delivers, and every follower started is stopped once all leases are gone.
/// </summary>
[Collection(PersistenceProcessCollection.Name)]
public sealed class ClusterFollowStressTests(ITestOutputHelper output) : IDisposable
{
    private const int Channels = 6;
    private const int Workers = 8;
    private const int LeasesPerWorker = 60;

    private readonly TempStoreDirectory _dir = new();

    [Fact]
    public async Task Leases_taken_and_released_concurrently_never_overlap_followers_nor_lose_or_repeat_a_message()
    {
        using var nats = new NatsServerProcess(Path.Combine(_dir.Path, "nats"));
        await nats.StartAsync();
        var store = new JetStreamClusterStore(new ClusterOptions { NatsUrl = nats.Url, UnfollowDelay = 0 }, new PersistenceOptions(),
            "stress", TimeProvider.System, NullLoggerFactory.Instance);
        var sink = new CheckingSink();
        try
        {
            await store.RecoverAsync(CancellationToken.None);
            store.StartChangeFeed(sink);
            var ids = Enumerable.Range(0, Channels).Select(_ => Guid.NewGuid()).ToArray();
            foreach (var id in ids)
            {
                sink.Track(id);
            }
            var acked = new long[Channels];

            using var stop = new CancellationTokenSource();
            var appender = Task.Run(async () =>
            {
                for (var n = 0; !stop.IsCancellationRequested; n++)
                {
                    var c = n % Channels;
                    var append = await store.AppendAsync(ids[c], _ => """{"n":1}"""u8.ToArray(), CancellationToken.None);
                    InterlockedMax(ref acked[c], append.Sequence);
                }
            });
            var workers = Enumerable.Range(0, Workers).Select(w => Task.Run(async () =>
            {
                var random = new Random(w);
                for (var i = 0; i < LeasesPerWorker; i++)
                {
                    var c = random.Next(Channels);
                    var before = Volatile.Read(ref acked[c]);
                    using var lease = store.Follow(ids[c], 16);
                    await lease.Ready.WaitAsync(TimeSpan.FromSeconds(20));
                    sink.CheckFollowing(ids[c]);
                    // While held, the follower runs: it reaches what was acknowledged before the lease was taken.
                    await sink.WaitDeliveredAsync(ids[c], before);
                    await Task.Delay(random.Next(0, 15));
                    lease.Dispose();
                    // Often no lease is held on the channel for a moment: its follower stops (delay 0) and restarts.
                    await Task.Delay(random.Next(0, 10));
                }
            })).ToArray();
            await Task.WhenAll(workers);
            stop.Cancel();
            await appender;

            // Every lease released: every follower stops, and the sink was told for each channel.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while ((store.FollowedChannels != 0 || store.FollowsStarted != store.FollowsStopped || sink.AnyFollowing()) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
            output.WriteLine($"followers started {store.FollowsStarted}, stopped {store.FollowsStopped}, messages delivered {sink.Delivered}, appended {acked.Sum()}");
            Assert.Empty(sink.Violations);
            Assert.Equal(0, store.FollowedChannels);
            Assert.Equal(store.FollowsStarted, store.FollowsStopped);
            Assert.False(sink.AnyFollowing());
            // Churn happened: far more follows than channels.
            Assert.True(store.FollowsStarted > 4 * Channels, $"only {store.FollowsStarted} follows started");

            // A last follow after the churn starts from the latest stored position and is complete.
            foreach (var (id, c) in ids.Select((id, c) => (id, c)))
            {
                using var lease = store.Follow(id, 16);
                await lease.Ready.WaitAsync(TimeSpan.FromSeconds(20));
                Assert.Equal(acked[c], sink.Position(id));
            }
            Assert.Empty(sink.Violations);
        }
        finally
        {
            await store.DisposeAsync();
        }
    }

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }
            current = seen;
        }
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>Checks the follow callbacks of each channel as they come; violations are collected, not thrown
    /// (they run on the store's loops).</summary>
    private sealed class CheckingSink : IClusterChangeSink
    {
        private sealed class State
        {
            public int InCallback;
            public bool Following;
            public long Position;
        }

        private readonly ConcurrentDictionary<Guid, State> _states = new();
        private long _delivered;

        public ConcurrentQueue<string> Violations { get; } = new();

        public long Delivered => Interlocked.Read(ref _delivered);

        public void Track(Guid id) => _states[id] = new State();

        public long Position(Guid id)
        {
            var state = _states[id];
            lock (state)
            {
                return state.Position;
            }
        }

        public bool AnyFollowing() => _states.Values.Any(s => { lock (s) { return s.Following; } });

        public void CheckFollowing(Guid id)
        {
            var state = _states[id];
            lock (state)
            {
                if (!state.Following)
                {
                    Violations.Enqueue($"{id}: a lease is ready but the sink was told the channel is not followed");
                }
            }
        }

        public async Task WaitDeliveredAsync(Guid id, long sequence)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (Position(id) < sequence)
            {
                if (DateTime.UtcNow > deadline)
                {
                    Violations.Enqueue($"{id}: a held follower did not reach {sequence} (at {Position(id)})");
                    return;
                }
                await Task.Delay(5);
            }
        }

        public void OnFollowStarted(Guid channelId, long lastSequence) => Step(channelId, state =>
        {
            // A follower retrying its start (NATS hiccup) may start again; a new follower must find the last stopped.
            state.Following = true;
            state.Position = lastSequence;
        });

        public void OnFollowStopped(Guid channelId) => Step(channelId, state =>
        {
            state.Following = false;
        });

        public void OnMessage(Guid channelId, long sequence, ReadOnlySpan<byte> envelopeJson)
        {
            Step(channelId, state =>
            {
                if (!state.Following)
                {
                    Violations.Enqueue($"{channelId}: message {sequence} after the follower stopped");
                }
                else if (sequence != state.Position + 1)
                {
                    Violations.Enqueue($"{channelId}: message {sequence} after {state.Position}");
                }
                state.Position = sequence;
            });
            Interlocked.Increment(ref _delivered);
        }

        private void Step(Guid channelId, Action<State> step)
        {
            var state = _states[channelId];
            if (Interlocked.Exchange(ref state.InCallback, 1) != 0)
            {
                Violations.Enqueue($"{channelId}: two followers called the sink at once");
            }
            lock (state)
            {
                step(state);
            }
            Volatile.Write(ref state.InCallback, 0);
        }

        public void OnChannelChanged(ChannelRecord record, ulong revision)
        {
        }

        public void OnChannelDeleted(Guid channelId)
        {
        }

        public void OnConnectionChanged(bool connected)
        {
        }
    }
}
