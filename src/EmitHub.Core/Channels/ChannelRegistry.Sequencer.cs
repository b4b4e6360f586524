using System.Text;
using EmitHub.Core.Diagnostics;
using EmitHub.Core.Fanout;
using EmitHub.Core.Storage;

namespace EmitHub.Core.Channels;

/// <summary>The hot path: sequence assignment, store append, commit-gated publish order and the fan-out.</summary>
public sealed partial class ChannelRegistry
{
    /// <summary>
    /// Publishes a broadcast (SPEC §2): 404 unknown, 409 not Active, 413 content over <c>message_size_limit</c>
    /// UTF-8 bytes, 429 over <c>rate_limit_per_minute</c>. On a persisting channel the result is returned only
    /// after the message is committed to the store (a success means durable).
    /// </summary>
    public async ValueTask<BroadcastResult> BroadcastAsync(Guid id, BroadcastRequest request, CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        if (!TryGetLive(id, out var channel))
        {
            return new BroadcastResult(ChannelError.NotFound, null, $"Channel {id} does not exist.", "channel_not_found");
        }
        var limit = _options.Current.MessageSizeLimit;
        var size = Encoding.UTF8.GetByteCount(request.Content);
        if (size > limit)
        {
            return new BroadcastResult(ChannelError.TooLarge, null,
                $"Field 'content' is {size} bytes of UTF-8; message_size_limit allows at most {limit}.", "message_too_large");
        }
        var status = channel.Status;
        if (status != ChannelStatus.Active || channel.Deleted)
        {
            return NotActiveBroadcast(channel, status);
        }
        if (!GcraRateLimiter.TryAcquire(channel.BroadcastLimiter, out var retryAfter))
        {
            _metrics.OnRateLimited(broadcast: true);
            return new BroadcastResult(ChannelError.RateLimited, null,
                $"Channel {channel.Name} allows {channel.Settings.RateLimitPerMinute} broadcasts per minute; retry in {retryAfter} s.",
                "rate_limited", retryAfter);
        }
        if (_cluster is not null)
        {
            return await ClusterBroadcastAsync(_cluster, channel, request, cancellationToken).ConfigureAwait(false);
        }

        ValueTask stored;
        PendingEmit? pending;
        int recipients;
        long sequence;
        DateTimeOffset now;
        lock (channel.Gate)
        {
            if (channel.Status != ChannelStatus.Active || channel.Deleted)
            {
                return NotActiveBroadcast(channel, channel.Status);
            }
            sequence = channel.LastSequence + 1;
            now = Now();
            var frame = BuildBroadcast(channel.Id, request, now, sequence, out var payload);
            stored = Emit(channel, frame, payload, now, isBroadcast: true, out pending, out recipients);
        }
        if (IsBackpressure(stored, out var busy))
        {
            // Refused before anything was stored: no sequence was used, so a retry is exact.
            return new BroadcastResult(ChannelError.Unavailable, null, busy.Message, "store_busy", busy.RetryAfterSeconds);
        }
        var committed = await CommitAsync(stored).ConfigureAwait(false);
        if (pending is not null)
        {
            recipients = await PublishCommittedAsync(channel, pending, committed).ConfigureAwait(false);
        }
        if (!committed)
        {
            // The record was enqueued, so a commit still in flight on the device may make it durable although this
            // answer is an error. The sequence and timestamp let the client find out exactly once the store is back.
            return new BroadcastResult(ChannelError.Unavailable, new BroadcastAck(sequence, 0, now),
                $"The message got sequence {sequence} but its commit to the store did not complete, so it was not sent to clients; it may still have been written. Once the store is back (GET /ready), GET /api/v1/channels/{channel.Id}/messages?after={sequence - 1}&limit=1 shows it if it was stored: same sequence and timestamp {Rfc3339.ToString(now)}.",
                "store_unavailable");
        }
        _metrics.Broadcasts.Add(1);
        _metrics.PublishDuration.Record(HubMetrics.SecondsSince(started));
        return new BroadcastResult(ChannelError.None, new BroadcastAck(sequence, recipients, now));
    }

    /// <summary>
    /// Assigns the next sequence and emits the message. On a persisting channel it is appended to the store and
    /// queued in <see cref="Channel.Pending"/>: clients get it only once its commit completed
    /// (<see cref="PublishCommittedAsync"/>), so no client is ever sent a message that a crash could lose and whose
    /// sequence the restarted server would give to another message. Otherwise it goes out at once (behind any
    /// queued messages). Caller holds the channel lock and gives up its reference to <paramref name="frame"/>.
    /// </summary>
    /// <param name="channel">The channel (lock held).</param>
    /// <param name="frame">The framed envelope, its sequence assigned.</param>
    /// <param name="payload">The envelope JSON inside <paramref name="frame"/>, as stored.</param>
    /// <param name="now">The envelope's timestamp.</param>
    /// <param name="isBroadcast">A broadcast (kept for <c>replay_last</c>), not a client message.</param>
    /// <param name="pending">The queued entry the caller must pass to <see cref="PublishCommittedAsync"/> once the
    /// returned task completed, or null when the message was published already.</param>
    /// <param name="recipients">Subscribers that accepted it when published at once, else 0.</param>
    /// <returns>The store append (completes on commit); failed when the store refused the record, in which case no
    /// sequence was used.</returns>
    private ValueTask Emit(Channel channel, OutboundMessage frame, ReadOnlyMemory<byte> payload, DateTimeOffset now,
        bool isBroadcast, out PendingEmit? pending, out int recipients)
    {
        pending = null;
        recipients = 0;
        var stored = ValueTask.CompletedTask;
        var persist = channel.Settings.PersistMessages;
        if (persist)
        {
            try
            {
                // The store copies the envelope synchronously, so the pooled frame may be released any time after.
                // No cancellation: once appended the record will be committed whatever happens to the request, and
                // the queue must learn that, or everything behind it waits.
                stored = _store.AppendMessageAsync(new StoredMessage(channel.Id, frame.Sequence, now, payload), CancellationToken.None);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                frame.Release();
                return ValueTask.FromException(ex);
            }
        }
        channel.LastSequence = frame.Sequence;
        channel.MessagesSent++;
        if (persist || channel.Pending.Count > 0)
        {
            pending = new PendingEmit(frame, isBroadcast, awaitsCommit: persist);
            channel.Pending.Enqueue(pending);
            return stored;
        }
        recipients = Publish(channel, frame, isBroadcast);
        frame.Release();
        return stored;
    }

    /// <summary>Sends a message to the subscribers and remembers it for replay. Caller holds the channel lock.</summary>
    private int Publish(Channel channel, OutboundMessage frame, bool isBroadcast)
    {
        channel.PublishedSequence = frame.Sequence;
        channel.Recent.Add(frame);
        if (isBroadcast)
        {
            channel.LastBroadcasts.Add(frame);
        }
        var recipients = channel.Subscribers.Publish(frame);
        // Once per message, not per subscriber: the fan-out loop stays free of counting.
        _metrics.Deliveries.Add(recipients);
        return recipients;
    }

    /// <summary>
    /// Called once the store append of <paramref name="pending"/> finished: publishes every queued entry that may go
    /// out now, in order. A commit covers a prefix of the log and a channel appends in sequence order, so this
    /// entry's commit releases every stored message before it too. Completes with the entry's recipients once it
    /// was published (0 when its append failed).
    /// </summary>
    private ValueTask<int> PublishCommittedAsync(Channel channel, PendingEmit pending, bool committed)
    {
        if (!committed)
        {
            pending.Failed = true;
        }
        else if (pending.AwaitsCommit)
        {
            channel.MarkCommitted(pending.Sequence);
        }
        channel.RequestDrain();
        while (channel.TryBeginDrain())
        {
            channel.BeginDrainPass();
            IChannelSubscriber[] toClose;
            lock (channel.Gate)
            {
                toClose = DrainPending(channel);
            }
            channel.EndDrain();
            foreach (var subscriber in toClose)
            {
                subscriber.Close(SubscriberCloseReason.ChannelStopped);
            }
        }
        return committed ? pending.WhenPublishedAsync() : new ValueTask<int>(0);
    }

    /// <summary>Publishes the queue's head while it may go out. Caller holds the channel lock; returns the
    /// subscribers a queued stop took out of the channel, to close outside the lock.</summary>
    private IChannelSubscriber[] DrainPending(Channel channel)
    {
        IChannelSubscriber[] toClose = [];
        while (channel.Pending.TryPeek(out var head))
        {
            if (head.AwaitsCommit && !head.Failed && head.Sequence > channel.CommittedThrough)
            {
                break;
            }
            channel.Pending.Dequeue();
            if (head.Frame is { } frame && !head.Failed)
            {
                if (head.Sequence > 0)
                {
                    head.MarkPublished(Publish(channel, frame, head.IsBroadcast));
                }
                else if (head.CloseAfter is { } stopped)
                {
                    toClose = [.. toClose, .. CloseStopped(channel, frame, stopped)];
                    channel.AnnouncedPaused = false;
                }
                else
                {
                    head.MarkPublished(channel.Subscribers.Publish(frame));
                    channel.AnnouncedPaused = head.Notice == ChannelNotice.Paused;
                }
            }
            head.Drop();
        }
        return toClose;
    }

    /// <summary>Stop: the notice to the subscribers the stop found, then takes them out of the channel.</summary>
    private static IChannelSubscriber[] CloseStopped(Channel channel, OutboundMessage notice, IChannelSubscriber[] stopped)
    {
        var removed = new List<IChannelSubscriber>(stopped.Length);
        foreach (var subscriber in stopped)
        {
            if (channel.Subscribers.Remove(subscriber))
            {
                channel.Connections--;
                subscriber.TryEnqueue(notice);
                removed.Add(subscriber);
            }
        }
        return removed.ToArray();
    }

    private static BroadcastResult NotActiveBroadcast(Channel channel, ChannelStatus status) =>
        new(ChannelError.Conflict, null,
            $"Channel {channel.Name} is {status}; broadcasts are accepted only while it is Active (PUT …/start).", "channel_not_active");

    /// <summary>
    /// A status notice to the channel's subscribers, after any message still waiting for its commit. A
    /// <see cref="ChannelNotice.Stopped"/> then takes the subscribers it reaches out of the channel; returns those to
    /// close now (none while the notice waits in the queue). Caller holds the channel lock.
    /// </summary>
    private IChannelSubscriber[] PublishNotice(Channel channel, ChannelNotice notice)
    {
        var (status, message) = ChannelLifecycle.Envelope(notice, channel.Name);
        var frame = BuildNotice(channel.Id, status, message);
        var closesSubscribers = notice == ChannelNotice.Stopped;
        if (channel.Pending.Count > 0)
        {
            channel.Pending.Enqueue(new PendingEmit(frame, isBroadcast: false, awaitsCommit: false,
                closesSubscribers ? channel.Subscribers.ToArray() : null, notice));
            return [];
        }
        IChannelSubscriber[] toClose = [];
        if (closesSubscribers)
        {
            toClose = channel.Subscribers.RemoveAll();
            channel.Connections -= toClose.Length;
            foreach (var subscriber in toClose)
            {
                subscriber.TryEnqueue(frame);
            }
        }
        else
        {
            channel.Subscribers.Publish(frame);
        }
        channel.AnnouncedPaused = notice == ChannelNotice.Paused;
        frame.Release();
        return toClose;
    }
}
