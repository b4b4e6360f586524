using EmitHub.Core.Cluster;
using EmitHub.Core.Fanout;
using Microsoft.Extensions.Logging;

namespace EmitHub.Core.Channels;

/// <summary>
/// The registry as one node of a cluster (issue 11): the store of record (<see cref="IClusterStore"/>) orders every
/// channel change and message for all nodes, and this node is a replica that applies them. A change made here is
/// proposed to the store (compare-and-set on the channel's revision) and applied when the change feed brings it
/// back, exactly as on every other node; a message is appended to the store (which gives it the channel's next
/// sequence) and reaches this node's clients through the channel's follower, like everyone else's messages.
/// Per node, not cluster-wide: rate limits (each node refills its own bucket), <c>max_connections</c> (each node
/// counts its own clients), <c>stats.connections</c> and a broadcast's <c>recipients</c>.
/// </summary>
public sealed partial class ChannelRegistry : IClusterChangeSink
{
    /// <summary>How long a proposing node waits for its own change to come back through the feed.</summary>
    private static readonly TimeSpan s_applyTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a joining client waits for this node to start following the channel.</summary>
    private static readonly TimeSpan s_followTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Compare-and-set rounds a lifecycle change tries against concurrent changes from other nodes.</summary>
    private const int MaxProposalAttempts = 20;

    private const string NatsUnavailable =
        "NATS is unreachable from this node, so the cluster's store of record cannot acknowledge it; nothing was changed. Retry when GET /ready reports \"nats\": \"ok\".";

    private async ValueTask InitializeClusterAsync(IClusterStore cluster, CancellationToken cancellationToken)
    {
        var recovery = await cluster.RecoverAsync(cancellationToken).ConfigureAwait(false);
        foreach (var record in recovery.Channels)
        {
            var channel = NewChannel(record, record.Epoch);
            channel.Revision = cluster.RecoveredRevisions.GetValueOrDefault(record.Id);
            recovery.LastSequences.TryGetValue(record.Id, out var last);
            channel.ResumeAt(last);
            channel.MessagesSent = last;
            _channels[channel.Id] = channel;
        }
        cluster.StartChangeFeed(this);
        _ready = true;
        LogRecovered(_channels.Count);
    }

    private async ValueTask<ChannelResult> ClusterCreateAsync(ChannelCreateRequest request, CancellationToken cancellationToken)
    {
        var now = Now();
        var record = new Storage.ChannelRecord(Guid.NewGuid(), request.Name, request.Description, ChannelStatus.Created, now, now,
            SettingsOf(request), NewEpoch(), LastSequence: 0, MessagesSent: 0);
        try
        {
            var revision = await _cluster!.PutChannelAsync(record, 0, cancellationToken).ConfigureAwait(false);
            var channel = await WaitAppliedAsync(record.Id, revision, cancellationToken).ConfigureAwait(false);
            LogCreated(record.Id, record.Name);
            return channel is null ? NotFound(record.Id) : ChannelResult.Ok(SnapshotOf(channel));
        }
        catch (ClusterUnavailableException)
        {
            return ClusterUnavailable();
        }
    }

    private ValueTask<ChannelResult> ClusterUpdateAsync(Channel channel, ChannelPatchRequest patch, CancellationToken cancellationToken) =>
        ProposeAsync(channel, current => (null, current with
        {
            Name = patch.Name ?? current.Name,
            Description = patch.HasDescription ? patch.Description : current.Description,
            Settings = patch.Settings.ApplyTo(current.Settings),
            UpdatedAt = Now(),
        }), cancellationToken);

    private ValueTask<ChannelResult> ClusterTransitionAsync(Channel channel, ChannelCommand command, CancellationToken cancellationToken)
    {
        if (command == ChannelCommand.Delete)
        {
            return ClusterDeleteAsync(channel, cancellationToken);
        }
        return ProposeAsync(channel, current =>
        {
            var transition = ChannelLifecycle.Decide(current.Status, command);
            if (!transition.Allowed)
            {
                return (ChannelResult.Fail(ChannelError.Conflict, "invalid_state", ChannelLifecycle.RefusalMessage(transition, current.Name, current.Status)), null);
            }
            return transition.Changes(current.Status)
                ? (null, current with { Status = transition.Next, UpdatedAt = Now() })
                : (ChannelResult.Ok(channel.Snapshot()), null);
        }, cancellationToken);
    }

    /// <summary>
    /// Compare-and-set of the channel's next state on the store of record: <paramref name="decide"/> runs under the
    /// channel lock on this node's current state and returns either an answer (a refusal, or "nothing to do") or
    /// the next record; a conflict (another node changed the channel first) waits for that change to arrive and
    /// decides again. Returns once this node applied the change, so a GET that follows sees it.
    /// </summary>
    private async ValueTask<ChannelResult> ProposeAsync(Channel channel, Func<Storage.ChannelRecord, (ChannelResult? Answer, Storage.ChannelRecord? Next)> decide,
        CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < MaxProposalAttempts; attempt++)
        {
            Storage.ChannelRecord next;
            ulong expected;
            lock (channel.Gate)
            {
                if (channel.Deleted)
                {
                    return NotFound(channel.Id);
                }
                var (answer, proposed) = decide(channel.ToRecord());
                if (answer is not null)
                {
                    return answer.Value;
                }
                next = proposed!;
                expected = channel.Revision;
            }
            try
            {
                var revision = await _cluster!.PutChannelAsync(next, expected, cancellationToken).ConfigureAwait(false);
                var applied = await WaitAppliedAsync(channel.Id, revision, cancellationToken).ConfigureAwait(false);
                if (next.Status != channel.Status)
                {
                    LogStatusChanged(channel.Id, next.Status);
                }
                return applied is null ? NotFound(channel.Id) : ChannelResult.Ok(SnapshotOf(applied));
            }
            catch (ClusterConflictException)
            {
                // Someone else's change is on its way through the feed; decide again on it.
                await WaitNewerAsync(channel, expected, cancellationToken).ConfigureAwait(false);
            }
            catch (ClusterUnavailableException)
            {
                return ClusterUnavailable();
            }
        }
        return ChannelResult.Fail(ChannelError.Conflict, "concurrent_change",
            $"Channel {channel.Name} is being changed by other nodes at the same time; retry.");
    }

    private async ValueTask<ChannelResult> ClusterDeleteAsync(Channel channel, CancellationToken cancellationToken)
    {
        ChannelSnapshot snapshot;
        lock (channel.Gate)
        {
            snapshot = channel.Snapshot();
        }
        try
        {
            await _cluster!.RemoveChannelAsync(channel.Id, cancellationToken).ConfigureAwait(false);
        }
        catch (ClusterUnavailableException)
        {
            return ClusterUnavailable();
        }
        var deadline = _time.GetUtcNow() + s_applyTimeout;
        while (_channels.ContainsKey(channel.Id) && _time.GetUtcNow() < deadline)
        {
            await Task.Delay(2, cancellationToken).ConfigureAwait(false);
        }
        LogDeleted(channel.Id);
        return ChannelResult.Ok(snapshot);
    }

    /// <summary><c>Retry-After</c> on a broadcast refused for want of NATS: NATS.Net retries the connection about every 2 s.</summary>
    private const int ClusterRetryAfterSeconds = 2;

    /// <summary>
    /// A broadcast in a cluster: appended to the store of record, which gives it the channel's next sequence
    /// cluster-wide; acknowledged once JetStream acknowledged it. This node's clients get it from the channel's
    /// follower like every other node's, so all see one order. <c>recipients</c> counts this node's clients.
    /// </summary>
    private async ValueTask<BroadcastResult> ClusterBroadcastAsync(IClusterStore cluster, Channel channel, BroadcastRequest request, CancellationToken cancellationToken)
    {
        if (!cluster.IsConnected)
        {
            return new BroadcastResult(ChannelError.Unavailable, null,
                "NATS is unreachable from this node, so the broadcast cannot be stored; it was not accepted. Retry when GET /ready reports \"nats\": \"ok\".",
                "cluster_unavailable", ClusterRetryAfterSeconds);
        }
        try
        {
            var append = await cluster.AppendAsync(channel.Id,
                timestamp => CopyAndRelease(BuildBroadcast(channel.Id, request, timestamp, sequence: 0, out var payload), payload),
                cancellationToken).ConfigureAwait(false);
            return new BroadcastResult(ChannelError.None, new BroadcastAck(append.Sequence, channel.Subscribers.Count, append.Timestamp));
        }
        catch (ClusterMessageTooLargeException ex)
        {
            return new BroadcastResult(ChannelError.TooLarge, null,
                $"{ex.Message} Send less, or raise max_payload in the NATS server's configuration (up to 64 MB) to match message_size_limit.",
                "message_too_large");
        }
        catch (ClusterUnavailableException ex)
        {
            LogClusterRefused(channel.Id, ex.Message);
            return new BroadcastResult(ChannelError.Unavailable, null,
                "The cluster's store of record (NATS JetStream) did not acknowledge the broadcast, so it is not confirmed: it may or may not have been stored (on a persisting channel, check GET …/messages before retrying).",
                "cluster_unavailable", ClusterRetryAfterSeconds);
        }
    }

    /// <summary>A client message in a cluster: appended like a broadcast, with the envelope a single node builds
    /// (<c>data.sender</c> = <paramref name="senderName"/>, the connection's token subject or "client"); on failure
    /// the sender gets an <c>error</c>.</summary>
    private async Task ClusterRelayAsync(IClusterStore cluster, Channel channel, IChannelSubscriber sender, string senderName, string text)
    {
        try
        {
            await cluster.AppendAsync(channel.Id,
                timestamp => CopyAndRelease(BuildClientMessage(channel, sender, senderName, text, timestamp, sequence: 0, out var payload), payload),
                CancellationToken.None).ConfigureAwait(false);
        }
        catch (ClusterMessageTooLargeException ex)
        {
            SendError(channel, sender, $"Your message was not relayed: {ex.Message}");
        }
        catch (ClusterUnavailableException)
        {
            SendError(channel, sender, "NATS is unreachable from this node, so your message could not be stored and was not relayed; retry later.");
        }
    }

    /// <summary>The envelope JSON as the array the cluster store takes over; the pooled frame goes back.</summary>
    private static byte[] CopyAndRelease(OutboundMessage frame, ReadOnlyMemory<byte> payload)
    {
        var copy = payload.ToArray();
        frame.Release();
        return copy;
    }

    /// <summary>
    /// Before a client joins on this node: the node follows the channel (its last messages loaded, live ones
    /// arriving), so <c>last_sequence</c>, <c>replay_last</c> and <c>?after=</c> see the cluster's history. Returns the
    /// client's follow lease, which the subscription holds until it ends (the node stops following
    /// <c>unfollow_delay</c> after the last one is released); null (connection closed 1013, try again later) when the
    /// store of record cannot be read.
    /// </summary>
    private async ValueTask<IClusterFollowLease?> ClusterPrepareJoinAsync(IClusterStore cluster, Channel channel, IChannelSubscriber subscriber, long? afterSequence, CancellationToken cancellationToken)
    {
        var lease = cluster.Follow(channel.Id, Channel.RecentCapacity);
        try
        {
            await lease.Ready.WaitAsync(s_followTimeout, cancellationToken).ConfigureAwait(false);
            if (afterSequence is not null)
            {
                // Refreshes what GetFirstStoredSequence answers inside the join's lock.
                await cluster.GetFirstSequenceAsync(channel.Id, cancellationToken).ConfigureAwait(false);
            }
            return lease;
        }
        catch (Exception ex) when (ex is TimeoutException or ClusterUnavailableException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            lease.Dispose();
            LogClusterRefused(channel.Id, "a client could not join: the channel's messages could not be read from NATS");
            subscriber.Close(SubscriberCloseReason.CatchUpBehind);
            return null;
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    void IClusterChangeSink.OnChannelChanged(Storage.ChannelRecord record, ulong revision)
    {
        if (!_channels.TryGetValue(record.Id, out var channel))
        {
            var created = NewChannel(record, record.Epoch);
            created.Revision = revision;
            _channels.TryAdd(record.Id, created);
            return;
        }
        IChannelSubscriber[] toClose = [];
        lock (channel.Gate)
        {
            if (channel.Deleted || revision <= channel.Revision)
            {
                return;
            }
            channel.Revision = revision;
            channel.Name = record.Name;
            channel.Description = record.Description;
            channel.UpdatedAt = record.UpdatedAt;
            if (record.Settings != channel.Settings)
            {
                channel.ApplySettings(record.Settings);
            }
            var from = channel.Status;
            if (from != record.Status)
            {
                channel.Status = record.Status;
                // The notice of the same cell of the status machine the proposing node decided on.
                var command = record.Status switch
                {
                    ChannelStatus.Active => ChannelCommand.Start,
                    ChannelStatus.Paused => ChannelCommand.Pause,
                    _ => ChannelCommand.Stop,
                };
                var transition = ChannelLifecycle.Decide(from, command);
                toClose = Announce(channel, transition.Allowed ? transition.Notice : ChannelNotice.None);
            }
        }
        foreach (var subscriber in toClose)
        {
            subscriber.Close(SubscriberCloseReason.ChannelStopped);
        }
    }

    /// <inheritdoc />
    void IClusterChangeSink.OnChannelDeleted(Guid channelId)
    {
        if (!_channels.TryGetValue(channelId, out var channel))
        {
            return;
        }
        IChannelSubscriber[] toClose;
        lock (channel.Gate)
        {
            if (channel.Deleted)
            {
                return;
            }
            toClose = Retire(channel);
        }
        foreach (var subscriber in toClose)
        {
            subscriber.Close(SubscriberCloseReason.ChannelDeleted);
        }
    }

    /// <inheritdoc />
    void IClusterChangeSink.OnFollowStarted(Guid channelId, long lastSequence)
    {
        if (!_channels.TryGetValue(channelId, out var channel))
        {
            return;
        }
        lock (channel.Gate)
        {
            channel.Recent.Clear();
            channel.LastBroadcasts.Clear();
            channel.ResumeAt(lastSequence);
            channel.MessagesSent = Math.Max(channel.MessagesSent, lastSequence);
        }
    }

    /// <inheritdoc />
    void IClusterChangeSink.OnFollowStopped(Guid channelId)
    {
        if (!_channels.TryGetValue(channelId, out var channel))
        {
            return;
        }
        lock (channel.Gate)
        {
            if (channel.Deleted)
            {
                return;
            }
            // Nobody reads them until the next follow, which reloads both (OnFollowStarted); an unfollowed channel
            // must not hold its catch-up and replay_last bytes against the node-wide budgets meanwhile.
            channel.Recent.Clear();
            channel.LastBroadcasts.Clear();
        }
    }

    /// <inheritdoc />
    void IClusterChangeSink.OnMessage(Guid channelId, long sequence, ReadOnlySpan<byte> envelopeJson)
    {
        if (!_channels.TryGetValue(channelId, out var channel))
        {
            return;
        }
        lock (channel.Gate)
        {
            if (channel.Deleted || sequence <= channel.PublishedSequence)
            {
                return;
            }
            var frame = EnvelopeWriter.FromJson(_encoder, envelopeJson, sequence);
            channel.LastSequence = sequence;
            channel.MarkCommitted(sequence);
            channel.MessagesSent = Math.Max(channel.MessagesSent, sequence);
            Publish(channel, frame, EnvelopeWriter.IsBroadcast(envelopeJson));
            frame.Release();
        }
    }

    /// <inheritdoc />
    void IClusterChangeSink.OnConnectionChanged(bool connected)
    {
    }

    /// <summary>Waits until the change feed applied <paramref name="revision"/> of the channel (or deleted it).</summary>
    private async ValueTask<Channel?> WaitAppliedAsync(Guid id, ulong revision, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + s_applyTimeout;
        while (true)
        {
            if (_channels.TryGetValue(id, out var channel) && channel.Revision >= revision)
            {
                return channel;
            }
            if (_time.GetUtcNow() > deadline)
            {
                throw new ClusterUnavailableException("the change was stored but did not come back through the change feed in time");
            }
            await Task.Delay(2, cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask WaitNewerAsync(Channel channel, ulong revision, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + s_applyTimeout;
        while (channel.Revision <= revision && !channel.Deleted && _time.GetUtcNow() < deadline)
        {
            await Task.Delay(2, cancellationToken).ConfigureAwait(false);
        }
    }

    private static ChannelSnapshot SnapshotOf(Channel channel)
    {
        lock (channel.Gate)
        {
            return channel.Snapshot();
        }
    }

    private static ChannelResult ClusterUnavailable() =>
        ChannelResult.Fail(ChannelError.Unavailable, "cluster_unavailable", NatsUnavailable);

    [LoggerMessage(EventId = 110, Level = LogLevel.Warning, Message = "Channel {ChannelId}: the cluster's store of record refused: {Reason}")]
    private partial void LogClusterRefused(Guid channelId, string reason);
}
