namespace EmitHub.Core.Channels;

/// <summary>Retention: what the store pruned is dropped from the in-memory replay rings too.</summary>
public sealed partial class ChannelRegistry
{
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
}
