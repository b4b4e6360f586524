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
            var channel = new Channel(record.Id, record.Name, record.Description, record.Status, record.CreatedAt,
                record.UpdatedAt, record.Settings, persist ? record.Epoch : NewEpoch(), _time)
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
}
