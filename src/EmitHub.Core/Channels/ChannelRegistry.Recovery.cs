using EmitHub.Core.Fanout;
using EmitHub.Core.Storage;

namespace EmitHub.Core.Channels;

/// <summary>Startup: channels, sequences, epochs and replay rings restored from the store.</summary>
public sealed partial class ChannelRegistry
{
    /// <summary>
    /// Loads channels from the store: same ids, settings and status. Persisting channels continue their sequence
    /// and epoch and get their <c>replay_last</c> envelopes back; other channels restart at sequence 0 with a new epoch.
    /// </summary>
    public async ValueTask InitializeAsync(CancellationToken cancellationToken)
    {
        if (_cluster is not null)
        {
            await InitializeClusterAsync(_cluster, cancellationToken).ConfigureAwait(false);
            return;
        }
        var recovery = await _store.RecoverAsync(cancellationToken).ConfigureAwait(false);
        foreach (var warning in recovery.Warnings)
        {
            LogRecoveryWarning(warning);
        }
        foreach (var record in recovery.Channels)
        {
            var persist = record.Settings.PersistMessages;
            var channel = NewChannel(record, persist ? record.Epoch : NewEpoch());
            if (persist)
            {
                recovery.LastSequences.TryGetValue(record.Id, out var last);
                channel.ResumeAt(last);
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

    /// <summary>A stored channel, live again (next in the list order) with <paramref name="epoch"/>.</summary>
    private Channel NewChannel(ChannelRecord record, string epoch) =>
        new(record.Id, record.Name, record.Description, record.Status, record.CreatedAt, record.UpdatedAt, record.Settings,
            epoch, _time, _replayLastBudget, _catchUpBudget)
        {
            Order = Interlocked.Increment(ref _nextOrder),
        };

    /// <summary>
    /// Fills a persisting channel's <c>replay_last</c> cache from the store after its <c>replay_last</c> grew, so a
    /// client joining right after the PATCH gets the latest broadcasts without waiting for new ones. Reads the last
    /// <see cref="Channel.RecentCapacity"/> stored messages outside the lock; under it, keeps what the cache gained
    /// meanwhile and puts the older stored broadcasts before it.
    /// </summary>
    private async ValueTask FillLastBroadcastsAsync(Channel channel, CancellationToken cancellationToken)
    {
        long published;
        lock (channel.Gate)
        {
            published = channel.PublishedSequence;
        }
        var from = Math.Max(0, published - Channel.RecentCapacity);
        var stored = await _store.ReadMessagesAsync(channel.Id, from, Channel.RecentCapacity, cancellationToken).ConfigureAwait(false);
        lock (channel.Gate)
        {
            if (channel.Deleted)
            {
                return;
            }
            var ring = channel.LastBroadcasts;
            var before = ring.Count > 0 ? ring.OldestSequence : published + 1;
            var merged = new List<OutboundMessage>();
            foreach (var message in stored)
            {
                if (message.Sequence < before && EnvelopeWriter.IsBroadcast(message.EnvelopeJson.Span))
                {
                    merged.Add(EnvelopeWriter.FromJson(_encoder, message.EnvelopeJson.Span, message.Sequence));
                }
            }
            for (var i = 0; i < ring.Count; i++)
            {
                var held = ring[i];
                held.AddRef();
                merged.Add(held);
            }
            ring.Clear();
            foreach (var frame in merged)
            {
                ring.Add(frame);
                frame.Release();
            }
        }
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
                if (EnvelopeWriter.IsBroadcast(message.EnvelopeJson.Span))
                {
                    channel.LastBroadcasts.Add(frame);
                }
                frame.Release();
            }
        }
    }
}
