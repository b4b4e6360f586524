using EmitHub.Core.Fanout;

namespace EmitHub.Core.Channels;

/// <summary>Create, patch, start / pause / stop and delete (SPEC §2): the channel's status machine.</summary>
public sealed partial class ChannelRegistry
{
    /// <summary>Creates a channel in status <c>Created</c>; settings left out take their defaults (SPEC §2). Refused
    /// with <see cref="ChannelError.Conflict"/> (409, <c>max_channels_reached</c>) when the server already holds
    /// <c>max_channels</c>: waiting does not help (so not 429), deleting a channel or raising the limit does.</summary>
    public async ValueTask<ChannelResult> CreateAsync(ChannelCreateRequest request, CancellationToken cancellationToken)
    {
        if (_cluster is not null)
        {
            if (TooManyChannels() is { } full)
            {
                return full;
            }
            return await ClusterCreateAsync(request, cancellationToken).ConfigureAwait(false);
        }
        var now = Now();
        var channel = new Channel(Guid.NewGuid(), request.Name, request.Description, ChannelStatus.Created, now, now,
            SettingsOf(request), NewEpoch(), _time, _replayLastBudget, _catchUpBudget)
        {
            Order = Interlocked.Increment(ref _nextOrder),
        };
        ValueTask saved;
        ChannelSnapshot snapshot;
        // The count check and the insert are one step, so concurrent creates cannot pass the limit together.
        lock (_createGate)
        {
            if (TooManyChannels() is { } full)
            {
                return full;
            }
            lock (channel.Gate)
            {
                _channels[channel.Id] = channel;
                saved = _store.SaveChannelAsync(channel.ToRecord(), cancellationToken);
                snapshot = channel.Snapshot();
            }
        }
        if (!await CommitAsync(saved).ConfigureAwait(false))
        {
            return StoreFailed();
        }
        LogCreated(channel.Id, channel.Name);
        return ChannelResult.Ok(snapshot);
    }

    /// <summary>Merges a patch: only the fields present change; inside <c>settings</c> only the keys present.</summary>
    public async ValueTask<ChannelResult> UpdateAsync(Guid id, ChannelPatchRequest patch, CancellationToken cancellationToken)
    {
        if (!TryGetLive(id, out var channel))
        {
            return NotFound(id);
        }
        if (_cluster is not null)
        {
            return await ClusterUpdateAsync(channel, patch, cancellationToken).ConfigureAwait(false);
        }
        ValueTask saved;
        ChannelSnapshot snapshot;
        bool refill;
        lock (channel.Gate)
        {
            if (channel.Deleted)
            {
                return NotFound(id);
            }
            var replayBefore = channel.Settings.ReplayLast;
            if (patch.Name is not null)
            {
                channel.Name = patch.Name;
            }
            if (patch.HasDescription)
            {
                channel.Description = patch.Description;
            }
            channel.ApplySettings(patch.Settings.ApplyTo(channel.Settings));
            channel.UpdatedAt = Now();
            saved = _store.SaveChannelAsync(channel.ToRecord(), cancellationToken);
            snapshot = channel.Snapshot();
            // A larger replay_last on a persisting channel: the older broadcasts are in the store, not in memory.
            refill = channel.Settings.PersistMessages && channel.Settings.ReplayLast > replayBefore;
        }
        if (!await CommitAsync(saved).ConfigureAwait(false))
        {
            return StoreFailed();
        }
        if (refill)
        {
            await FillLastBroadcastsAsync(channel, cancellationToken).ConfigureAwait(false);
        }
        return ChannelResult.Ok(snapshot);
    }

    /// <summary>Created/Paused/Stopped → Active (idempotent on Active). Clients of a paused channel get <c>resumed</c>.</summary>
    public ValueTask<ChannelResult> StartAsync(Guid id, CancellationToken cancellationToken) =>
        TransitionAsync(id, ChannelCommand.Start, cancellationToken);

    /// <summary>Active → Paused (idempotent on Paused); 409 from Created or Stopped. Clients get <c>paused</c>.</summary>
    public ValueTask<ChannelResult> PauseAsync(Guid id, CancellationToken cancellationToken) =>
        TransitionAsync(id, ChannelCommand.Pause, cancellationToken);

    /// <summary>Active/Paused → Stopped (idempotent on Stopped); 409 from Created. Clients get <c>stopped</c>, then close 1001.</summary>
    public ValueTask<ChannelResult> StopAsync(Guid id, CancellationToken cancellationToken) =>
        TransitionAsync(id, ChannelCommand.Stop, cancellationToken);

    /// <summary>Deletes a channel: its clients get <c>stopped</c> then close 1001; its stored data is dropped.</summary>
    public ValueTask<ChannelResult> DeleteAsync(Guid id, CancellationToken cancellationToken) =>
        TransitionAsync(id, ChannelCommand.Delete, cancellationToken);

    /// <summary>
    /// Applies one cell of <see cref="ChannelLifecycle"/> under the channel's lock: the new status, the notice to the
    /// clients, the store record. A delete retires the channel in the same step: it leaves the directory, its pending
    /// messages, subscriber set and replay rings are released, and every later caller holding it sees
    /// <see cref="Channel.Deleted"/> — "channel gone" as a value (404), never a disposed object.
    /// </summary>
    private async ValueTask<ChannelResult> TransitionAsync(Guid id, ChannelCommand command, CancellationToken cancellationToken)
    {
        if (!TryGetLive(id, out var channel))
        {
            return NotFound(id);
        }
        if (_cluster is not null)
        {
            return await ClusterTransitionAsync(channel, command, cancellationToken).ConfigureAwait(false);
        }
        ValueTask saved;
        ChannelSnapshot snapshot;
        IChannelSubscriber[] toClose = [];
        ChannelStatus next;
        lock (channel.Gate)
        {
            if (channel.Deleted)
            {
                return NotFound(id);
            }
            var from = channel.Status;
            var transition = ChannelLifecycle.Decide(from, command);
            if (!transition.Allowed)
            {
                return ChannelResult.Fail(ChannelError.Conflict, "invalid_state", ChannelLifecycle.RefusalMessage(transition, channel.Name, from));
            }
            if (!transition.Changes(from))
            {
                return ChannelResult.Ok(channel.Snapshot());
            }
            next = transition.Next;
            if (command == ChannelCommand.Delete)
            {
                snapshot = channel.Snapshot();
                saved = _store.DeleteChannelAsync(id, cancellationToken);
                toClose = Retire(channel);
            }
            else
            {
                channel.Status = next;
                channel.UpdatedAt = Now();
                toClose = Announce(channel, transition.Notice);
                saved = _store.SaveChannelAsync(channel.ToRecord(), cancellationToken);
                snapshot = channel.Snapshot();
            }
        }
        var reason = command == ChannelCommand.Delete ? SubscriberCloseReason.ChannelDeleted : SubscriberCloseReason.ChannelStopped;
        foreach (var subscriber in toClose)
        {
            subscriber.Close(reason);
        }
        if (command == ChannelCommand.Delete)
        {
            LogDeleted(id);
        }
        else
        {
            LogStatusChanged(channel.Id, next);
        }
        return await CommitAsync(saved).ConfigureAwait(false) ? ChannelResult.Ok(snapshot) : StoreFailed();
    }

    /// <summary>Sends a transition's notice (a stop also takes the subscribers out: returned, to close outside the
    /// lock). Caller holds the channel lock.</summary>
    private IChannelSubscriber[] Announce(Channel channel, ChannelNotice notice)
    {
        if (notice == ChannelNotice.Stopped)
        {
            channel.StopGeneration++;
        }
        return notice == ChannelNotice.None ? [] : PublishNotice(channel, notice);
    }

    /// <summary>A delete's step under the channel lock: marks it deleted, sends <c>stopped</c>, releases its pending
    /// messages and rings and takes it out of the directory; returns the subscribers to close (1001).</summary>
    private IChannelSubscriber[] Retire(Channel channel)
    {
        channel.Deleted = true;
        channel.StopGeneration++;
        // Messages still waiting for their commit are deleted with the channel; the notice goes out now.
        while (channel.Pending.TryDequeue(out var pending))
        {
            pending.Drop();
        }
        var toClose = PublishNotice(channel, ChannelNotice.Stopped);
        channel.ReleaseResources();
        _channels.TryRemove(channel.Id, out _);
        return toClose;
    }

    /// <summary>A new channel's settings: the request's, and for the keys it leaves out the defaults (SPEC §2).</summary>
    private ChannelSettings SettingsOf(ChannelCreateRequest request)
    {
        var options = _options.Current;
        var defaults = new ChannelSettings(
            MaxConnections: options.MaxConnectionsPerChannel,
            AllowClientMessages: false,
            PersistMessages: options.Persistence.PersistMessagesDefault,
            RateLimitPerMinute: 60,
            ReplayLast: 0);
        return request.Settings.ApplyTo(defaults);
    }

    private ChannelResult? TooManyChannels()
    {
        var max = _options.Current.MaxChannels;
        var count = _channels.Count;
        return count < max
            ? null
            : ChannelResult.Fail(ChannelError.Conflict, "max_channels_reached",
                $"The server already holds {count} channels, its max_channels limit of {max}; delete a channel or raise max_channels.");
    }

    private static ChannelResult NotFound(Guid id) =>
        ChannelResult.Fail(ChannelError.NotFound, "channel_not_found", $"Channel {id} does not exist.");

    private static ChannelResult StoreFailed() =>
        ChannelResult.Fail(ChannelError.Unavailable, "store_unavailable", "The change could not be committed to the store.");
}
