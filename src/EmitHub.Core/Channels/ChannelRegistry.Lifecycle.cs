using EmitHub.Core.Fanout;

namespace EmitHub.Core.Channels;

/// <summary>Create, patch, start / pause / stop and delete (SPEC §2): the channel's status machine.</summary>
public sealed partial class ChannelRegistry
{
    /// <summary>Creates a channel in status <c>Created</c>; settings left out take their defaults (SPEC §2).</summary>
    public async ValueTask<ChannelResult> CreateAsync(ChannelCreateRequest request, CancellationToken cancellationToken)
    {
        var options = _options.Current;
        var defaults = new ChannelSettings(
            MaxConnections: options.MaxConnectionsPerChannel,
            AllowClientMessages: false,
            PersistMessages: options.Persistence.PersistMessagesDefault,
            RateLimitPerMinute: 60,
            ReplayLast: 0);
        var now = Now();
        var channel = new Channel(Guid.NewGuid(), request.Name, request.Description, ChannelStatus.Created, now, now,
            request.Settings.ApplyTo(defaults), NewEpoch())
        {
            Order = Interlocked.Increment(ref _nextOrder),
        };
        ValueTask saved;
        ChannelSnapshot snapshot;
        lock (channel.Gate)
        {
            _channels[channel.Id] = channel;
            saved = _store.SaveChannelAsync(channel.ToRecord(), cancellationToken);
            snapshot = channel.Snapshot();
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
        ValueTask saved;
        ChannelSnapshot snapshot;
        lock (channel.Gate)
        {
            if (channel.Deleted)
            {
                return NotFound(id);
            }
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
        }
        return await CommitAsync(saved).ConfigureAwait(false) ? ChannelResult.Ok(snapshot) : StoreFailed();
    }

    /// <summary>Created/Paused/Stopped → Active (idempotent on Active). Clients of a paused channel get <c>resumed</c>.</summary>
    public ValueTask<ChannelResult> StartAsync(Guid id, CancellationToken cancellationToken) =>
        TransitionAsync(id, ChannelStatus.Active, cancellationToken);

    /// <summary>Active → Paused (idempotent on Paused); 409 from Created or Stopped. Clients get <c>paused</c>.</summary>
    public ValueTask<ChannelResult> PauseAsync(Guid id, CancellationToken cancellationToken) =>
        TransitionAsync(id, ChannelStatus.Paused, cancellationToken);

    /// <summary>Active/Paused → Stopped (idempotent on Stopped); 409 from Created. Clients get <c>stopped</c>, then close 1001.</summary>
    public ValueTask<ChannelResult> StopAsync(Guid id, CancellationToken cancellationToken) =>
        TransitionAsync(id, ChannelStatus.Stopped, cancellationToken);

    private async ValueTask<ChannelResult> TransitionAsync(Guid id, ChannelStatus target, CancellationToken cancellationToken)
    {
        if (!TryGetLive(id, out var channel))
        {
            return NotFound(id);
        }
        ValueTask saved;
        ChannelSnapshot snapshot;
        IChannelSubscriber[] toClose = [];
        lock (channel.Gate)
        {
            if (channel.Deleted)
            {
                return NotFound(id);
            }
            var from = channel.Status;
            if (from == target)
            {
                return ChannelResult.Ok(channel.Snapshot());
            }
            if (target == ChannelStatus.Paused && from != ChannelStatus.Active)
            {
                return ChannelResult.Fail(ChannelError.Conflict, "invalid_state",
                    $"Channel {channel.Name} is {from}; only an Active channel can be paused.");
            }
            if (target == ChannelStatus.Stopped && from == ChannelStatus.Created)
            {
                return ChannelResult.Fail(ChannelError.Conflict, "invalid_state",
                    $"Channel {channel.Name} was never started; only an Active or Paused channel can be stopped.");
            }
            channel.Status = target;
            channel.UpdatedAt = Now();
            switch (target)
            {
                case ChannelStatus.Active when from == ChannelStatus.Paused:
                    PublishNotice(channel, "resumed", $"Channel {channel.Name} resumed");
                    break;
                case ChannelStatus.Paused:
                    PublishNotice(channel, "paused", $"Channel {channel.Name} is paused");
                    break;
                case ChannelStatus.Stopped:
                    toClose = PublishNotice(channel, "stopped", $"Channel {channel.Name} stopped", closesSubscribers: true);
                    break;
            }
            saved = _store.SaveChannelAsync(channel.ToRecord(), cancellationToken);
            snapshot = channel.Snapshot();
        }
        foreach (var subscriber in toClose)
        {
            subscriber.Close(SubscriberCloseReason.ChannelStopped);
        }
        LogStatusChanged(channel.Id, target);
        return await CommitAsync(saved).ConfigureAwait(false) ? ChannelResult.Ok(snapshot) : StoreFailed();
    }

    /// <summary>Deletes a channel: its clients get <c>stopped</c> then close 1001; its stored data is dropped.</summary>
    public async ValueTask<ChannelResult> DeleteAsync(Guid id, CancellationToken cancellationToken)
    {
        if (!TryGetLive(id, out var channel))
        {
            return NotFound(id);
        }
        ValueTask saved;
        IChannelSubscriber[] toClose;
        ChannelSnapshot snapshot;
        lock (channel.Gate)
        {
            if (channel.Deleted)
            {
                return NotFound(id);
            }
            channel.Deleted = true;
            // Messages still waiting for their commit are deleted with the channel; the notice goes out now.
            while (channel.Pending.TryDequeue(out var pending))
            {
                pending.Drop();
            }
            PublishNotice(channel, "stopped", $"Channel {channel.Name} stopped");
            toClose = channel.Subscribers.RemoveAll();
            channel.Connections -= toClose.Length;
            snapshot = channel.Snapshot();
            saved = _store.DeleteChannelAsync(id, cancellationToken);
            channel.ReleaseResources();
            _channels.TryRemove(id, out _);
        }
        foreach (var subscriber in toClose)
        {
            subscriber.Close(SubscriberCloseReason.ChannelDeleted);
        }
        LogDeleted(id);
        return await CommitAsync(saved).ConfigureAwait(false) ? ChannelResult.Ok(snapshot) : StoreFailed();
    }

    private static ChannelResult NotFound(Guid id) =>
        ChannelResult.Fail(ChannelError.NotFound, "channel_not_found", $"Channel {id} does not exist.");

    private static ChannelResult StoreFailed() =>
        ChannelResult.Fail(ChannelError.Unavailable, "store_unavailable", "The change could not be committed to the store.");
}
