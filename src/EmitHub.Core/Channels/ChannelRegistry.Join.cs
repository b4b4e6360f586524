using EmitHub.Core.Fanout;

namespace EmitHub.Core.Channels;

/// <summary>A WebSocket client joining a channel: admission, <c>connected</c>, replay or store catch-up, then live.</summary>
public sealed partial class ChannelRegistry
{
    /// <summary>Store pages read per step while a joining client catches up.</summary>
    private const int ReplayPageSize = 1000;

    /// <summary>Store-read rounds a joining client may take before it is refused (1013) as unable to catch up.</summary>
    private const int MaxReplayRounds = 64;

    /// <summary>
    /// Joins a WebSocket client to a channel (SPEC §3, §6). The subscriber receives, in order and with nothing
    /// interleaved: <c>connected</c>; then either the latest <c>replay_last</c> broadcasts or, with
    /// <paramref name="afterSequence"/>, every stored message after it; then live messages — no gap, no duplicate,
    /// even while broadcasts race the replay. When refused the subscriber gets <c>denied</c> and a close request
    /// (1008 not Active, 1013 full).
    /// </summary>
    /// <param name="id">Channel id.</param>
    /// <param name="subscriber">The connection.</param>
    /// <param name="afterSequence">Recovery point from <c>?after=SEQ</c>, or null.</param>
    /// <param name="epoch">Epoch from <c>&amp;epoch=</c>, or null; a different epoch makes <c>recovered</c> false.</param>
    /// <param name="cancellationToken">Cancels a store replay.</param>
    public async ValueTask<SubscribeResult> SubscribeAsync(Guid id, IChannelSubscriber subscriber, long? afterSequence, string? epoch, CancellationToken cancellationToken)
    {
        if (!TryGetLive(id, out var channel))
        {
            return Gone(subscriber);
        }
        if (_cluster is null)
        {
            return await JoinAsync(channel, subscriber, afterSequence, epoch, null, cancellationToken).ConfigureAwait(false);
        }
        if (RefuseBeforeFollow(channel, subscriber) is { } refused)
        {
            return refused;
        }
        if (await ClusterPrepareJoinAsync(_cluster, channel, subscriber, afterSequence, cancellationToken).ConfigureAwait(false) is not { } follow)
        {
            return new SubscribeResult(SubscribeOutcome.Failed, null);
        }
        try
        {
            var result = await JoinAsync(channel, subscriber, afterSequence, epoch, follow, cancellationToken).ConfigureAwait(false);
            if (result.Subscription is null)
            {
                // Refused, gone or failed: only a subscription keeps the node following the channel.
                follow.Dispose();
            }
            return result;
        }
        catch
        {
            follow.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A cluster join that would be refused now (deleted, not Active, full) is refused before the node follows the
    /// channel for it: a display retrying on a paused channel must not keep the node consuming the stream. The same
    /// refusals as <see cref="JoinAsync"/>, decided under the lock; one that passes is decided again there.
    /// </summary>
    private SubscribeResult? RefuseBeforeFollow(Channel channel, IChannelSubscriber subscriber)
    {
        lock (channel.Gate)
        {
            return RefuseUnderLock(channel, subscriber);
        }
    }

    /// <summary>The join refusals (deleted → 1001, not Active → <c>denied</c> 1008, full → <c>denied</c> 1013), or null
    /// when the subscriber may join. Caller holds <c>channel.Gate</c>.</summary>
    private SubscribeResult? RefuseUnderLock(Channel channel, IChannelSubscriber subscriber)
    {
        if (channel.Deleted)
        {
            return Gone(subscriber);
        }
        if (channel.Status != ChannelStatus.Active)
        {
            Deny(channel, subscriber, $"Channel {channel.Name} is not active", SubscriberCloseReason.ChannelNotActive);
            return new SubscribeResult(SubscribeOutcome.NotActive, null);
        }
        if (channel.Connections >= channel.Settings.MaxConnections)
        {
            Deny(channel, subscriber, $"Channel {channel.Name} is full", SubscriberCloseReason.ChannelFull);
            return new SubscribeResult(SubscribeOutcome.Full, null);
        }
        return null;
    }

    /// <summary>The join proper (<see cref="SubscribeAsync"/>): admission, <c>connected</c>, replay or store catch-up,
    /// then live. <paramref name="follow"/> (cluster only) goes to the subscription when it joins.</summary>
    private async ValueTask<SubscribeResult> JoinAsync(Channel channel, IChannelSubscriber subscriber, long? afterSequence, string? epoch,
        Cluster.IClusterFollowLease? follow, CancellationToken cancellationToken)
    {
        var id = channel.Id;
        long cursor;
        int stopGeneration;
        lock (channel.Gate)
        {
            if (RefuseUnderLock(channel, subscriber) is { } refused)
            {
                return refused;
            }
            channel.Connections++;
            stopGeneration = channel.StopGeneration;
            // What clients were sent so far; later sequences still wait for their commit and come live.
            var last = channel.PublishedSequence;
            bool? recovered = null;
            var needStore = false;
            cursor = last;
            if (afterSequence is long after)
            {
                var epochMatches = epoch is null || string.Equals(epoch, channel.Epoch, StringComparison.Ordinal);
                if (!epochMatches || after > last)
                {
                    // The client's position belongs to another history: it must refetch its state.
                    recovered = false;
                }
                else if (after == last)
                {
                    recovered = true;
                }
                else if (channel.Settings.PersistMessages)
                {
                    var first = _store.GetFirstStoredSequence(id);
                    var inRing = channel.Recent.Covers(after, last, out _);
                    // Damage found by a recovery may have taken sequences after the client's position.
                    recovered = !_store.IsLostAfter(id, after) && (inRing || (first != 0 && first <= after + 1));
                    needStore = !inRing;
                    cursor = after;
                }
                else
                {
                    recovered = false;
                }
            }
            EnqueueOwned(subscriber, BuildConnected(channel, subscriber.ConnectionId, recovered));
            if (!needStore)
            {
                if (afterSequence is null)
                {
                    for (var i = 0; i < channel.LastBroadcasts.Count; i++)
                    {
                        subscriber.TryEnqueue(channel.LastBroadcasts[i]);
                    }
                }
                else if (recovered == true && afterSequence < last && channel.Recent.Covers(afterSequence.Value, last, out var start))
                {
                    for (var i = start; i < channel.Recent.Count; i++)
                    {
                        subscriber.TryEnqueue(channel.Recent[i]);
                    }
                }
                channel.Subscribers.TryAdd(subscriber);
                return new SubscribeResult(SubscribeOutcome.Connected, new Subscription(this, channel, subscriber, follow));
            }
        }

        // Catch up from the store outside the lock, then join under it once the in-memory ring covers the rest.
        try
        {
            return await CatchUpAsync(channel, subscriber, cursor, stopGeneration, follow, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Cancelled (the connection went away) or the store failed: give the reserved slot back.
            LeaveJoining(channel);
            throw;
        }
    }

    private async ValueTask<SubscribeResult> CatchUpAsync(Channel channel, IChannelSubscriber subscriber, long cursor, int stopGeneration,
        Cluster.IClusterFollowLease? follow, CancellationToken cancellationToken)
    {
        var id = channel.Id;
        for (var round = 0; round < MaxReplayRounds; round++)
        {
            long published;
            lock (channel.Gate)
            {
                published = channel.PublishedSequence;
            }
            var page = await _store.ReadMessagesAsync(id, cursor, ReplayPageSize, cancellationToken).ConfigureAwait(false);
            var reachedLive = false;
            foreach (var message in page)
            {
                if (message.Sequence > published)
                {
                    // Committed but not yet published: it reaches the subscriber live, once it joined.
                    reachedLive = true;
                    break;
                }
                await subscriber.WaitForRoomAsync(message.EnvelopeJson.Length + 10, cancellationToken).ConfigureAwait(false);
                var frame = EnvelopeWriter.FromJson(_encoder, message.EnvelopeJson.Span, message.Sequence);
                var accepted = subscriber.TryEnqueue(frame);
                frame.Release();
                if (!accepted)
                {
                    LeaveJoining(channel);
                    return new SubscribeResult(SubscribeOutcome.Failed, null);
                }
                cursor = message.Sequence;
            }
            if (page.Count == ReplayPageSize && !reachedLive)
            {
                continue;
            }
            lock (channel.Gate)
            {
                if (channel.Deleted || channel.StopGeneration != stopGeneration)
                {
                    // Stopped or deleted while this client caught up: it is told and closed like the clients the
                    // stop found (a start since then does not undo that).
                    channel.Connections--;
                    EnqueueOwned(subscriber, BuildNotice(channel.Id, "stopped", ChannelLifecycle.Envelope(ChannelNotice.Stopped, channel.Name).Message));
                    subscriber.Close(channel.Deleted ? SubscriberCloseReason.ChannelDeleted : SubscriberCloseReason.ChannelStopped);
                    return new SubscribeResult(SubscribeOutcome.Failed, null);
                }
                if (channel.Recent.Covers(cursor, channel.PublishedSequence, out var start))
                {
                    for (var i = start; i < channel.Recent.Count; i++)
                    {
                        subscriber.TryEnqueue(channel.Recent[i]);
                    }
                    if (channel.AnnouncedPaused)
                    {
                        // Paused while this client caught up: the notice went to the members only.
                        EnqueueOwned(subscriber, BuildNotice(channel.Id, "paused", ChannelLifecycle.Envelope(ChannelNotice.Paused, channel.Name).Message));
                    }
                    channel.Subscribers.TryAdd(subscriber);
                    return new SubscribeResult(SubscribeOutcome.Connected, new Subscription(this, channel, subscriber, follow));
                }
            }
        }
        LeaveJoining(channel);
        subscriber.Close(SubscriberCloseReason.CatchUpBehind);
        return new SubscribeResult(SubscribeOutcome.Failed, null);
    }

    /// <summary>The channel was deleted after the upgrade was accepted: the connection is closed as its clients
    /// were (1001), never left open without a subscription.</summary>
    private static SubscribeResult Gone(IChannelSubscriber subscriber)
    {
        subscriber.Close(SubscriberCloseReason.ChannelDeleted);
        return new SubscribeResult(SubscribeOutcome.NotFound, null);
    }

    private static void LeaveJoining(Channel channel)
    {
        lock (channel.Gate)
        {
            channel.Connections--;
        }
    }

    internal void Unsubscribe(Channel channel, IChannelSubscriber subscriber)
    {
        lock (channel.Gate)
        {
            // Stop/delete already cleared the set and released the slots of everyone in it.
            if (channel.Subscribers.Remove(subscriber))
            {
                channel.Connections--;
            }
        }
    }

    private void Deny(Channel channel, IChannelSubscriber subscriber, string message, SubscriberCloseReason reason)
    {
        EnqueueOwned(subscriber, BuildNotice(channel.Id, "denied", message));
        subscriber.Close(reason);
    }
}
