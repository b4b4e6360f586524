using System.Text.Json;
using EmitHub.Core.Fanout;
using Microsoft.Extensions.Logging;

namespace EmitHub.Core.Channels;

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
        long cursor;
        lock (channel.Gate)
        {
            if (channel.Deleted)
            {
                return Gone(subscriber);
            }
            if (channel.Status != ChannelStatus.Active)
            {
                Deny(channel, subscriber, $"Channel {channel.Name} is not active", 1008);
                return new SubscribeResult(SubscribeOutcome.NotActive, null);
            }
            if (channel.Connections >= channel.Settings.MaxConnections)
            {
                Deny(channel, subscriber, $"Channel {channel.Name} is full", 1013);
                return new SubscribeResult(SubscribeOutcome.Full, null);
            }
            channel.Connections++;
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
                    recovered = inRing || (first != 0 && first <= after + 1);
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
                return new SubscribeResult(SubscribeOutcome.Connected, new Subscription(this, channel, subscriber));
            }
        }

        // Catch up from the store outside the lock, then join under it once the in-memory ring covers the rest.
        try
        {
            return await CatchUpAsync(channel, subscriber, cursor, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Cancelled (the connection went away) or the store failed: give the reserved slot back.
            LeaveJoining(channel);
            throw;
        }
    }

    private async ValueTask<SubscribeResult> CatchUpAsync(Channel channel, IChannelSubscriber subscriber, long cursor, CancellationToken cancellationToken)
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
                if (channel.Deleted || channel.Status == ChannelStatus.Stopped)
                {
                    channel.Connections--;
                    subscriber.Close(1001, channel.Deleted ? "Channel deleted" : "Channel stopped");
                    return new SubscribeResult(SubscribeOutcome.Failed, null);
                }
                if (channel.Recent.Covers(cursor, channel.PublishedSequence, out var start))
                {
                    for (var i = start; i < channel.Recent.Count; i++)
                    {
                        subscriber.TryEnqueue(channel.Recent[i]);
                    }
                    channel.Subscribers.TryAdd(subscriber);
                    return new SubscribeResult(SubscribeOutcome.Connected, new Subscription(this, channel, subscriber));
                }
            }
        }
        LeaveJoining(channel);
        subscriber.Close(1013, "Replay could not catch up with the live stream; reconnect later");
        return new SubscribeResult(SubscribeOutcome.Failed, null);
    }

    /// <summary>The channel was deleted after the upgrade was accepted: the connection is closed as its clients
    /// were (1001), never left open without a subscription.</summary>
    private static SubscribeResult Gone(IChannelSubscriber subscriber)
    {
        subscriber.Close(1001, "Channel deleted");
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

    /// <summary>Relays a client's text (SPEC §3): a <c>client_message</c> to everyone, or an <c>error</c> to the sender.</summary>
    internal void OnClientText(Channel channel, IChannelSubscriber sender, string text, ref System.Threading.RateLimiting.RateLimiter? limiter)
    {
        var settings = channel.Settings;
        if (!settings.AllowClientMessages)
        {
            SendError(channel, sender, $"Client messages are not allowed on channel {channel.Name}; only the server broadcasts here.");
            return;
        }
        if (channel.Status != ChannelStatus.Active)
        {
            SendError(channel, sender, $"Channel {channel.Name} is {channel.Status}; client messages are relayed only while it is Active.");
            return;
        }
        if (settings.RateLimitPerMinute > 0)
        {
            limiter ??= RateLimits.Create(settings.RateLimitPerMinute);
            if (!RateLimits.TryAcquire(limiter, out var retryAfter))
            {
                SendError(channel, sender,
                    $"Rate limit exceeded: at most {settings.RateLimitPerMinute} client messages per minute per connection; retry in {retryAfter} s.");
                return;
            }
        }
        ValueTask stored;
        PendingEmit? pending;
        lock (channel.Gate)
        {
            if (channel.Deleted || channel.Status != ChannelStatus.Active)
            {
                return;
            }
            var sequence = channel.LastSequence + 1;
            var now = Now();
            var writer = EnvelopeWriter.ForCurrentThread(_encoder);
            var json = writer.Begin();
            EnvelopeWriter.WriteHead(json, "client_message", $"Client message in {channel.Name}: {text}", channel.Id, now);
            json.WriteStartObject("data"u8);
            json.WriteString("original_message"u8, text);
            json.WriteString("sender"u8, "client");
            json.WriteString("connection_id"u8, sender.ConnectionId);
            json.WriteEndObject();
            json.WriteNumber("sequence"u8, sequence);
            json.WriteEndObject();
            var frame = writer.Complete(sequence, out var payload);
            stored = Emit(channel, frame, payload, now, isBroadcast: false, out pending, out _);
        }
        if (IsBackpressure(stored, out var busy))
        {
            SendError(channel, sender, $"Your message was not relayed: {busy.Message}");
            return;
        }
        if (pending is not null || !stored.IsCompletedSuccessfully)
        {
            _ = PublishWhenCommittedAsync(channel, pending, stored);
        }
    }

    /// <summary>Waits for a client message's commit, then publishes it (and whatever queued behind it).</summary>
    private async Task PublishWhenCommittedAsync(Channel channel, PendingEmit? pending, ValueTask stored)
    {
        var committed = await CommitAsync(stored).ConfigureAwait(false);
        if (pending is not null)
        {
            await PublishCommittedAsync(channel, pending, committed).ConfigureAwait(false);
        }
    }

    private void SendError(Channel channel, IChannelSubscriber subscriber, string message) =>
        EnqueueOwned(subscriber, BuildNotice(channel.Id, "error", message));

    private void Deny(Channel channel, IChannelSubscriber subscriber, string message, ushort closeCode)
    {
        EnqueueOwned(subscriber, BuildNotice(channel.Id, "denied", message));
        subscriber.Close(closeCode, closeCode == 1013 ? "Channel is full" : "Channel is not active");
    }

    private static void EnqueueOwned(IChannelSubscriber subscriber, OutboundMessage message)
    {
        subscriber.TryEnqueue(message);
        message.Release();
    }

    private OutboundMessage BuildConnected(Channel channel, Guid connectionId, bool? recovered)
    {
        var writer = EnvelopeWriter.ForCurrentThread(_encoder);
        var json = writer.Begin();
        EnvelopeWriter.WriteHead(json, "connected", $"Connected to channel: {channel.Name}", channel.Id, Now());
        json.WriteStartObject("data"u8);
        json.WritePropertyName("channel"u8);
        // The snapshot counts this connection, which joins right after its connected envelope.
        var snapshot = channel.Snapshot();
        snapshot = snapshot with { Stats = snapshot.Stats with { Connections = snapshot.Stats.Connections + 1 } };
        JsonSerializer.Serialize(json, snapshot, CoreJsonContext.Default.ChannelSnapshot);
        json.WriteString("connection_id"u8, connectionId);
        json.WriteString("epoch"u8, channel.Epoch);
        json.WriteNumber("last_sequence"u8, channel.PublishedSequence);
        if (recovered is bool value)
        {
            json.WriteBoolean("recovered"u8, value);
        }
        json.WriteEndObject();
        json.WriteEndObject();
        return writer.Complete(0);
    }
}

/// <summary>
/// A live membership of one connection in one channel. The connection passes its text messages to
/// <see cref="OnClientText"/> and disposes the subscription when it closes. Not thread-safe per instance:
/// one connection's receive loop drives it.
/// </summary>
public sealed class Subscription : IDisposable
{
    private readonly ChannelRegistry _registry;
    private readonly Channel _channel;
    private System.Threading.RateLimiting.RateLimiter? _clientLimiter;
    private int _disposed;

    internal Subscription(ChannelRegistry registry, Channel channel, IChannelSubscriber subscriber)
    {
        _registry = registry;
        _channel = channel;
        Subscriber = subscriber;
    }

    /// <summary>The channel's id.</summary>
    public Guid ChannelId => _channel.Id;

    /// <summary>The connection.</summary>
    public IChannelSubscriber Subscriber { get; }

    /// <summary>
    /// Handles one complete text message from the client: relays it as <c>client_message</c> when the channel
    /// allows it and the connection is within <c>rate_limit_per_minute</c>, else enqueues an <c>error</c> envelope
    /// to this connection only (the connection stays open).
    /// </summary>
    public void OnClientText(string text)
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            _registry.OnClientText(_channel, Subscriber, text, ref _clientLimiter);
        }
    }

    /// <summary>Leaves the channel (idempotent).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _registry.Unsubscribe(_channel, Subscriber);
            _clientLimiter?.Dispose();
        }
    }
}
