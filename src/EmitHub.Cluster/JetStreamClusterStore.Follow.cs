using EmitHub.Core.Cluster;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace EmitHub.Cluster;

public sealed partial class JetStreamClusterStore
{
    /// <summary>Pages read while a follower catches up from the stream.</summary>
    private const int CatchUpPageSize = 500;

    /// <summary>Guards the follow bookkeeping: <see cref="_followers"/>, each follower's leases, linger and stop.</summary>
    private readonly Lock _followGate = new();

    /// <summary>Followers not stopped (lingering ones included); guarded by <see cref="_followGate"/>.</summary>
    private int _followed;

    private long _followsStarted;
    private long _followsStopped;

    /// <summary>
    /// One followed channel: a loop that delivers its messages in sequence order to the sink, and the leases of the
    /// local subscribers that keep it running. Fields below <see cref="Delivered"/> are guarded by
    /// <see cref="_followGate"/>.
    /// </summary>
    private sealed class ChannelFollower(Guid channelId, CancellationToken closing)
    {
        public readonly Guid ChannelId = channelId;
        public readonly CancellationTokenSource Stopping = CancellationTokenSource.CreateLinkedTokenSource(closing);
        public readonly TaskCompletionSource Ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Task Loop = Task.CompletedTask;
        public bool Started;
        public long Delivered;

        /// <summary>Leases held now (one per local subscriber, or joining client).</summary>
        public int Leases;

        /// <summary>Set once, when the follower is stopped; a stopped follower is never restarted.</summary>
        public bool Stopped;

        /// <summary>Stopped because its last lease was released (not deleted, not closing): the sink is told.</summary>
        public bool Unfollowed;

        /// <summary>The pending unfollow after the last lease was released, or null.</summary>
        public ITimer? Linger;

        /// <summary>Bumped by every lease taken or released, so a linger timer that fired late does nothing.</summary>
        public long LingerGeneration;

        public void Cancel()
        {
            Stopping.Cancel();
            Ready.TrySetCanceled();
        }
    }

    /// <summary>One subscriber's hold on a <see cref="ChannelFollower"/>.</summary>
    private sealed class FollowLease(JetStreamClusterStore store, ChannelFollower follower) : IClusterFollowLease
    {
        private int _released;

        public Task Ready => follower.Ready.Task;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                store.Release(follower);
            }
        }
    }

    /// <inheritdoc />
    public int FollowedChannels => Volatile.Read(ref _followed);

    /// <inheritdoc />
    public long FollowsStarted => Interlocked.Read(ref _followsStarted);

    /// <inheritdoc />
    public long FollowsStopped => Interlocked.Read(ref _followsStopped);

    /// <inheritdoc />
    public IClusterFollowLease Follow(Guid channelId, int recent)
    {
        lock (_followGate)
        {
            _followers.TryGetValue(channelId, out var follower);
            if (follower is null || follower.Stopped)
            {
                // A stopped follower stays in the map until its loop ended: the new one waits for that loop, so the
                // sink never gets the old follower's last message after the new one's OnFollowStarted.
                var previous = follower?.Loop ?? Task.CompletedTask;
                var created = new ChannelFollower(channelId, _closing.Token);
                created.Loop = Task.Run(() => RunFollowerAsync(created, previous, recent));
                _followers[channelId] = created;
                _followed++;
                Interlocked.Increment(ref _followsStarted);
                LogFollowStarted(channelId, NodeName);
                follower = created;
            }
            follower.Leases++;
            follower.LingerGeneration++;
            follower.Linger?.Dispose();
            follower.Linger = null;
            return new FollowLease(this, follower);
        }
    }

    /// <summary>A lease was released: the last one arms the unfollow after <c>unfollow_delay</c>.</summary>
    private void Release(ChannelFollower follower)
    {
        lock (_followGate)
        {
            follower.Leases--;
            if (follower.Leases > 0 || follower.Stopped || _closing.IsCancellationRequested)
            {
                return;
            }
            var generation = ++follower.LingerGeneration;
            follower.Linger = _time.CreateTimer(static state =>
            {
                var (store, lingering, armed) = ((JetStreamClusterStore, ChannelFollower, long))state!;
                store.OnLingerElapsed(lingering, armed);
            }, (this, follower, generation), _unfollowDelay, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The linger of <paramref name="generation"/> ran out: stops following unless a lease came back meanwhile.</summary>
    private void OnLingerElapsed(ChannelFollower follower, long generation)
    {
        lock (_followGate)
        {
            if (follower.Stopped || follower.Leases > 0 || follower.LingerGeneration != generation || _closing.IsCancellationRequested)
            {
                return;
            }
            follower.Unfollowed = true;
            StopLocked(follower);
        }
        LogFollowStopped(follower.ChannelId, NodeName, follower.Delivered);
        follower.Cancel();
    }

    /// <summary>The channel was deleted: its follower (running or lingering) stops now, and nothing is kept for it.</summary>
    private void ForgetChannel(Guid channelId)
    {
        ChannelFollower? follower = null;
        lock (_followGate)
        {
            if (_followers.TryGetValue(channelId, out var current) && !current.Stopped)
            {
                follower = current;
                StopLocked(current);
            }
        }
        follower?.Cancel();
        _streams.TryRemove(channelId, out _);
        _firstSequences.TryRemove(channelId, out _);
    }

    /// <summary>Marks <paramref name="follower"/> stopped; the caller cancels it after leaving the lock.</summary>
    private void StopLocked(ChannelFollower follower)
    {
        follower.Stopped = true;
        follower.Linger?.Dispose();
        follower.Linger = null;
        _followed--;
        Interlocked.Increment(ref _followsStopped);
    }

    /// <summary>Runs a follower once the previous follower of its channel ended; then tells the sink it stopped
    /// (when unfollowed) and takes it out of the map unless a newer one replaced it.</summary>
    private async Task RunFollowerAsync(ChannelFollower follower, Task previous, int recent)
    {
        await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        try
        {
            await FollowLoopAsync(follower.ChannelId, recent, follower).ConfigureAwait(false);
        }
        finally
        {
            if (follower.Unfollowed)
            {
                _sink!.OnFollowStopped(follower.ChannelId);
            }
            lock (_followGate)
            {
                _followers.TryRemove(KeyValuePair.Create(follower.ChannelId, follower));
            }
        }
    }

    /// <summary>
    /// Delivers a channel's messages: first the latest <paramref name="recent"/> stored ones, then live ones from an
    /// ordered consumer on the channel's stream (JetStream's ordered consumer re-creates itself on a missed
    /// delivery). Each message's channel sequence is checked: a duplicate is skipped; a gap is filled from
    /// the stream before the message goes on. A broken consumer (NATS restarted or unreachable) is re-created after
    /// the last delivered sequence, so clients resume without gap once NATS is back.
    /// </summary>
    private async Task FollowLoopAsync(Guid channelId, int recent, ChannelFollower follower)
    {
        var cancellationToken = follower.Stopping.Token;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (!follower.Started)
                {
                    EnsureConnected();
                    var (_, last) = await GetBoundsAsync(channelId, cancellationToken).ConfigureAwait(false);
                    var from = Math.Max(0, last - recent);
                    follower.Delivered = from;
                    _sink!.OnFollowStarted(channelId, from);
                    await CatchUpAsync(channelId, follower, last, cancellationToken).ConfigureAwait(false);
                    follower.Delivered = Math.Max(follower.Delivered, last);
                    follower.Started = true;
                    follower.Ready.TrySetResult();
                }
                var consumer = await _js.CreateOrderedConsumerAsync(StreamOf(channelId), new NatsJSOrderedConsumerOpts
                {
                    DeliverPolicy = ConsumerConfigDeliverPolicy.ByStartSequence,
                    OptStartSeq = (ulong)follower.Delivered + 1,
                    MaxResetAttempts = -1,
                }, cancellationToken).ConfigureAwait(false);
                await foreach (var message in consumer.ConsumeAsync(s_raw, cancellationToken: cancellationToken).ConfigureAwait(false))
                {
                    var entry = ToEntry(message.Metadata, message.Data);
                    if (entry.Sequence <= follower.Delivered)
                    {
                        continue;
                    }
                    if (entry.Sequence > follower.Delivered + 1)
                    {
                        LogGapFilled(channelId, follower.Delivered, entry.Sequence);
                        await CatchUpAsync(channelId, follower, entry.Sequence - 1, cancellationToken).ConfigureAwait(false);
                    }
                    Deliver(channelId, follower, entry);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogFollowInterrupted(channelId, follower.Delivered, ex);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Delivers the stored messages after <see cref="ChannelFollower.Delivered"/> up to <paramref name="through"/>.</summary>
    private async ValueTask CatchUpAsync(Guid channelId, ChannelFollower follower, long through, CancellationToken cancellationToken)
    {
        while (follower.Delivered < through)
        {
            var page = await ReadEntriesAsync(channelId, follower.Delivered, CatchUpPageSize, cancellationToken).ConfigureAwait(false);
            if (page.Count == 0)
            {
                return;
            }
            foreach (var entry in page)
            {
                if (entry.Sequence > follower.Delivered)
                {
                    if (entry.Sequence > follower.Delivered + 1)
                    {
                        // Removed by retention before this node read it: the clients' sequence jumps, as after a prune.
                        _sink!.OnFollowStarted(channelId, entry.Sequence - 1);
                        follower.Delivered = entry.Sequence - 1;
                    }
                    Deliver(channelId, follower, entry);
                }
            }
        }
    }

    private void Deliver(Guid channelId, ChannelFollower follower, StreamEntry entry)
    {
        _sink!.OnMessage(channelId, entry.Sequence, entry.Envelope);
        follower.Delivered = entry.Sequence;
    }
}
