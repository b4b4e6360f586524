using EmitHub.Core.Fanout;

namespace EmitHub.Core.Channels;

/// <summary>Client text frames relayed as <c>client_message</c> (SPEC §3).</summary>
public sealed partial class ChannelRegistry
{
    /// <summary>Relays a client's text (SPEC §3): a <c>client_message</c> to everyone, or an <c>error</c> to the sender.</summary>
    internal void OnClientText(Channel channel, IChannelSubscriber sender, string senderName, string text, ref GcraRateLimiter? limiter)
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
            if (limiter is null || limiter.PerMinute != settings.RateLimitPerMinute)
            {
                limiter = GcraRateLimiter.Create(settings.RateLimitPerMinute, _time);
            }
            if (!GcraRateLimiter.TryAcquire(limiter, out var retryAfter))
            {
                _metrics.OnRateLimited(broadcast: false);
                SendError(channel, sender,
                    $"Rate limit exceeded: at most {settings.RateLimitPerMinute} client messages per minute per connection; retry in {retryAfter} s.");
                return;
            }
        }
        if (_cluster is not null)
        {
            _ = ClusterRelayAsync(_cluster, channel, sender, senderName, text);
            return;
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
            var frame = BuildClientMessage(channel, sender, senderName, text, now, sequence, out var payload);
            stored = Emit(channel, frame, payload, now, isBroadcast: false, out pending, out _);
        }
        if (IsBackpressure(stored, out var busy))
        {
            SendError(channel, sender, $"Your message was not relayed: {busy.Message}");
            return;
        }
        _metrics.ClientMessages.Add(1);
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

    /// <summary>
    /// An <c>error</c> envelope to the sender only — unless the channel is stopped or deleted: then the sender has
    /// been (or is about to be) sent <c>stopped</c> and closed 1001, and nothing may follow <c>stopped</c> (SPEC §3).
    /// A text read between the <c>stopped</c> envelope and the close is dropped; the close says why.
    /// </summary>
    private void SendError(Channel channel, IChannelSubscriber subscriber, string message)
    {
        if (channel.Deleted || channel.Status == ChannelStatus.Stopped)
        {
            return;
        }
        EnqueueOwned(subscriber, BuildNotice(channel.Id, "error", message));
    }
}
