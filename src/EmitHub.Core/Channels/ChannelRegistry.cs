using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using EmitHub.Core.Configuration;
using EmitHub.Core.Fanout;
using EmitHub.Core.Storage;
using Microsoft.Extensions.Logging;

namespace EmitHub.Core.Channels;

/// <summary>
/// Owns every channel: the status machine (SPEC §2), sequences, rate limits, the store writes and the fan-out of
/// envelopes to subscribers (SPEC §3, §6). Thread-safe. Each channel's changes are serialized by its own lock;
/// the store record of a change is enqueued under that lock (so the log has the changes in order) and awaited
/// outside it (so a slow commit never blocks other channels).
/// </summary>
public sealed partial class ChannelRegistry : IAsyncDisposable
{
    /// <summary>Most envelope bytes in one page of <c>GET …/messages</c>: 16 MiB.</summary>
    public const long HistoryPageMaxBytes = 16L * 1024 * 1024;

    private readonly LiveOptions _options;
    private readonly IChannelStore _store;
    private readonly IFrameEncoder _encoder;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<Guid, Channel> _channels = new();
    private volatile bool _ready;
    private long _nextOrder;

    /// <summary>Creates an empty registry; call <see cref="InitializeAsync"/> to load the stored channels.</summary>
    public ChannelRegistry(LiveOptions options, IChannelStore store, IFrameEncoder encoder, TimeProvider time, ILogger<ChannelRegistry> logger)
    {
        _options = options;
        _store = store;
        _encoder = encoder;
        _time = time;
        _logger = logger;
    }

    /// <summary>True once recovery finished and the store is healthy (<c>/ready</c>).</summary>
    public bool IsReady => _ready && _store.IsHealthy;

    /// <summary>True once recovery finished.</summary>
    public bool IsRecovered => _ready;

    /// <summary>The store behind the registry (health checks, maintenance).</summary>
    public IChannelStore Store => _store;

    /// <summary>
    /// Loads channels from the store: same ids, settings and status. Persisting channels continue their sequence
    /// and epoch and get their <c>replay_last</c> envelopes back; other channels restart at sequence 0 with a new epoch.
    /// </summary>
    public async ValueTask InitializeAsync(CancellationToken cancellationToken)
    {
        var recovery = await _store.RecoverAsync(cancellationToken).ConfigureAwait(false);
        foreach (var warning in recovery.Warnings)
        {
            LogRecoveryWarning(warning);
        }
        foreach (var record in recovery.Channels)
        {
            var persist = record.Settings.PersistMessages;
            var channel = new Channel(record.Id, record.Name, record.Description, record.Status, record.CreatedAt,
                record.UpdatedAt, record.Settings, persist ? record.Epoch : NewEpoch())
            {
                Order = Interlocked.Increment(ref _nextOrder),
            };
            if (persist)
            {
                recovery.LastSequences.TryGetValue(record.Id, out var last);
                channel.LastSequence = last;
                channel.PublishedSequence = last;
                channel.MarkCommitted(last);
                channel.MessagesSent = Math.Max(record.MessagesSent, last);
                await RestoreRecentAsync(channel, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                channel.MessagesSent = record.MessagesSent;
            }
            _channels[channel.Id] = channel;
        }
        _ready = true;
        LogRecovered(_channels.Count);
    }

    private async ValueTask RestoreRecentAsync(Channel channel, CancellationToken cancellationToken)
    {
        var from = Math.Max(0, channel.LastSequence - Channel.RecentCapacity);
        var stored = await _store.ReadMessagesAsync(channel.Id, from, Channel.RecentCapacity, cancellationToken).ConfigureAwait(false);
        lock (channel.Gate)
        {
            foreach (var message in stored)
            {
                var frame = EnvelopeWriter.FromJson(_encoder, message.EnvelopeJson.Span, message.Sequence);
                channel.Recent.Add(frame);
                if (message.EnvelopeJson.Span.StartsWith("{\"status\":\"broadcast\""u8))
                {
                    channel.LastBroadcasts.Add(frame);
                }
                frame.Release();
            }
        }
    }

    /// <summary>Every channel, oldest first.</summary>
    public IReadOnlyList<ChannelSnapshot> List()
    {
        var channels = _channels.Values.ToArray();
        Array.Sort(channels, static (a, b) => a.Order.CompareTo(b.Order));
        var list = new List<ChannelSnapshot>(channels.Length);
        foreach (var channel in channels)
        {
            lock (channel.Gate)
            {
                if (!channel.Deleted)
                {
                    list.Add(channel.Snapshot());
                }
            }
        }
        return list;
    }

    /// <summary>The channel, or null when unknown.</summary>
    public ChannelSnapshot? Get(Guid id)
    {
        if (!_channels.TryGetValue(id, out var channel))
        {
            return null;
        }
        lock (channel.Gate)
        {
            return channel.Deleted ? null : channel.Snapshot();
        }
    }

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
            subscriber.Close(1001, "Channel stopped");
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
            subscriber.Close(1001, "Channel deleted");
        }
        LogDeleted(id);
        return await CommitAsync(saved).ConfigureAwait(false) ? ChannelResult.Ok(snapshot) : StoreFailed();
    }

    /// <summary>
    /// Publishes a broadcast (SPEC §2): 404 unknown, 409 not Active, 413 content over <c>message_size_limit</c>
    /// UTF-8 bytes, 429 over <c>rate_limit_per_minute</c>. On a persisting channel the result is returned only
    /// after the message is committed to the store (a success means durable).
    /// </summary>
    public async ValueTask<BroadcastResult> BroadcastAsync(Guid id, BroadcastRequest request, CancellationToken cancellationToken)
    {
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
        if (!RateLimits.TryAcquire(channel.BroadcastLimiter, out var retryAfter))
        {
            return new BroadcastResult(ChannelError.RateLimited, null,
                $"Channel {channel.Name} allows {channel.Settings.RateLimitPerMinute} broadcasts per minute; retry in {retryAfter} s.",
                "rate_limited", retryAfter);
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
            var writer = EnvelopeWriter.ForCurrentThread(_encoder);
            var json = writer.Begin();
            EnvelopeWriter.WriteHead(json, "broadcast", request.Content, channel.Id, now);
            if (request.DataJson.IsEmpty)
            {
                json.WriteNull("data"u8);
            }
            else
            {
                json.WritePropertyName("data"u8);
                json.WriteRawValue(request.DataJson.Span, skipInputValidation: true);
            }
            json.WriteNumber("sequence"u8, sequence);
            json.WriteEndObject();
            var frame = writer.Complete(sequence, out var payload);
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
            var afterQuery = sequence - 1;
            return new BroadcastResult(ChannelError.Unavailable, new BroadcastAck(sequence, 0, now),
                $"The message got sequence {sequence} but its commit to the store did not complete, so it was not sent to clients; it may still have been written. Once the store is back (GET /ready), GET /api/v1/channels/{channel.Id}/messages?after={afterQuery}&limit=1 shows it if it was stored: same sequence and timestamp {Rfc3339.ToString(now)}.",
                "store_unavailable");
        }
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
    private static int Publish(Channel channel, OutboundMessage frame, bool isBroadcast)
    {
        channel.PublishedSequence = frame.Sequence;
        channel.Recent.Add(frame);
        if (isBroadcast)
        {
            channel.LastBroadcasts.Add(frame);
        }
        return channel.Subscribers.Publish(frame);
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
                subscriber.Close(1001, "Channel stopped");
            }
        }
        return committed ? pending.WhenPublishedAsync() : new ValueTask<int>(0);
    }

    /// <summary>Publishes the queue's head while it may go out. Caller holds the channel lock; returns the
    /// subscribers a queued stop took out of the channel, to close outside the lock.</summary>
    private static IChannelSubscriber[] DrainPending(Channel channel)
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
                }
                else
                {
                    head.MarkPublished(channel.Subscribers.Publish(frame));
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
    /// Stored history (SPEC §2, §6): 404 unknown channel, 409 when the channel does not persist messages.
    /// <c>next_after</c> is the last sequence returned, or <paramref name="after"/> when the page is empty.
    /// </summary>
    public async ValueTask<HistoryResult> GetMessagesAsync(Guid id, long after, int limit, CancellationToken cancellationToken)
    {
        if (!TryGetLive(id, out var channel))
        {
            return new HistoryResult(ChannelError.NotFound, [], after, $"Channel {id} does not exist.", "channel_not_found");
        }
        if (!channel.Settings.PersistMessages)
        {
            return new HistoryResult(ChannelError.Conflict, [], after,
                $"Channel {channel.Name} does not persist messages; set settings.persist_messages to true to keep history.",
                "persistence_disabled");
        }
        var messages = await _store.ReadMessagesAsync(id, after, limit, cancellationToken).ConfigureAwait(false);
        // A page stops at HistoryPageMaxBytes (at least one message), so limit=1000 of 1 MiB messages cannot build a
        // 1 GiB response; next_after tells the client where to continue.
        var envelopes = new List<ReadOnlyMemory<byte>>(messages.Count);
        long bytes = 0;
        var nextAfter = after;
        foreach (var message in messages)
        {
            if (envelopes.Count > 0 && bytes + message.EnvelopeJson.Length > HistoryPageMaxBytes)
            {
                break;
            }
            envelopes.Add(message.EnvelopeJson);
            bytes += message.EnvelopeJson.Length;
            nextAfter = message.Sequence;
        }
        return new HistoryResult(ChannelError.None, envelopes, nextAfter);
    }

    /// <summary>
    /// Applies retention (called periodically by the host): the store drops what is older than
    /// <c>message_retention_days</c> or beyond <c>max_messages_per_channel</c>, and the in-memory copies kept for
    /// replay drop the same messages, so a pruned message is never served again.
    /// </summary>
    public async ValueTask ApplyRetentionAsync(CancellationToken cancellationToken)
    {
        var persistence = _options.Current.Persistence;
        await _store.ApplyRetentionAsync(_time.GetUtcNow(), persistence.MessageRetentionDays, persistence.MaxMessagesPerChannel, cancellationToken).ConfigureAwait(false);
        foreach (var channel in _channels.Values)
        {
            if (!channel.Settings.PersistMessages)
            {
                continue;
            }
            var first = _store.GetFirstStoredSequence(channel.Id);
            lock (channel.Gate)
            {
                // 0 means nothing is stored any more: everything up to the last sequence was pruned.
                var keepFrom = first == 0 ? channel.LastSequence + 1 : first;
                channel.Recent.DropBefore(keepFrom);
                channel.LastBroadcasts.DropBefore(keepFrom);
            }
        }
    }

    /// <summary>
    /// Graceful stop: every subscriber gets close 1001 ("server shutting down"), then the store is flushed.
    /// </summary>
    public async ValueTask ShutdownAsync(CancellationToken cancellationToken)
    {
        foreach (var channel in _channels.Values)
        {
            IChannelSubscriber[] toClose;
            lock (channel.Gate)
            {
                toClose = channel.Subscribers.RemoveAll();
                channel.Connections -= toClose.Length;
            }
            foreach (var subscriber in toClose)
            {
                subscriber.Close(1001, "Server shutting down");
            }
        }
        await _store.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        foreach (var channel in _channels.Values)
        {
            lock (channel.Gate)
            {
                channel.ReleaseResources();
            }
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// A status notice to the channel's subscribers, after any message still waiting for its commit. With
    /// <paramref name="closesSubscribers"/> (stop) the subscribers it reaches are then taken out of the channel;
    /// returns those to close now (none while the notice waits in the queue). Caller holds the channel lock.
    /// </summary>
    private IChannelSubscriber[] PublishNotice(Channel channel, string status, string message, bool closesSubscribers = false)
    {
        var frame = BuildNotice(channel.Id, status, message);
        if (channel.Pending.Count > 0)
        {
            channel.Pending.Enqueue(new PendingEmit(frame, isBroadcast: false, awaitsCommit: false,
                closesSubscribers ? channel.Subscribers.Snapshot.ToArray() : null));
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
        frame.Release();
        return toClose;
    }

    private OutboundMessage BuildNotice(Guid channelId, string status, string message)
    {
        var writer = EnvelopeWriter.ForCurrentThread(_encoder);
        var json = writer.Begin();
        EnvelopeWriter.WriteHead(json, status, message, channelId, Now());
        json.WriteNull("data"u8);
        json.WriteEndObject();
        return writer.Complete(0);
    }

    private bool TryGetLive(Guid id, out Channel channel) => _channels.TryGetValue(id, out channel!) && !channel.Deleted;

    private static ChannelResult NotFound(Guid id) =>
        ChannelResult.Fail(ChannelError.NotFound, "channel_not_found", $"Channel {id} does not exist.");

    private static ChannelResult StoreFailed() =>
        ChannelResult.Fail(ChannelError.Unavailable, "store_unavailable", "The change could not be committed to the store.");

    /// <summary>True when the store refused the append at once (<see cref="StoreBackpressureException"/>).</summary>
    private static bool IsBackpressure(ValueTask stored, out StoreBackpressureException busy)
    {
        busy = null!;
        if (!stored.IsFaulted)
        {
            return false;
        }
        if (stored.AsTask().Exception?.InnerException is StoreBackpressureException refused)
        {
            busy = refused;
            return true;
        }
        return false;
    }

    private async ValueTask<bool> CommitAsync(ValueTask pending)
    {
        try
        {
            await pending.ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogCommitFailed(ex);
            return false;
        }
    }

    private DateTimeOffset Now() => Rfc3339.Truncate(_time.GetUtcNow());

    private static string NewEpoch() => Guid.NewGuid().ToString("N")[..16];

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Recovered {Count} channel(s) from the store")]
    private partial void LogRecovered(int count);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Store recovery: {Warning}")]
    private partial void LogRecoveryWarning(string warning);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Channel {ChannelId} created: {Name}")]
    private partial void LogCreated(Guid channelId, string name);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "Channel {ChannelId} is now {Status}")]
    private partial void LogStatusChanged(Guid channelId, ChannelStatus status);

    [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "Channel {ChannelId} deleted")]
    private partial void LogDeleted(Guid channelId);

    [LoggerMessage(EventId = 105, Level = LogLevel.Error, Message = "Store commit failed")]
    private partial void LogCommitFailed(Exception exception);
}
