using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace EmitHub.Cluster;

public sealed partial class JetStreamClusterStore
{
    /// <summary>Pages read while a follower catches up from the stream.</summary>
    private const int CatchUpPageSize = 500;

    /// <summary>One followed channel: a loop that delivers its messages in sequence order to the sink.</summary>
    private sealed class ChannelFollower(CancellationToken closing)
    {
        public readonly CancellationTokenSource Stopping = CancellationTokenSource.CreateLinkedTokenSource(closing);
        public readonly TaskCompletionSource Ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Task Loop = Task.CompletedTask;
        public bool Started;
        public long Delivered;

        public void Stop()
        {
            Stopping.Cancel();
            Ready.TrySetCanceled();
        }
    }

    /// <inheritdoc />
    public ValueTask FollowAsync(Guid channelId, int recent, CancellationToken cancellationToken)
    {
        var follower = _followers.GetOrAdd(channelId, id =>
        {
            var created = new ChannelFollower(_closing.Token);
            created.Loop = Task.Run(() => FollowLoopAsync(id, recent, created));
            return created;
        });
        return new ValueTask(follower.Ready.Task.WaitAsync(cancellationToken));
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
