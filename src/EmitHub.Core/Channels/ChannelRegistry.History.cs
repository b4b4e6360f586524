namespace EmitHub.Core.Channels;

/// <summary>Stored history pages (<c>GET …/messages</c>).</summary>
public sealed partial class ChannelRegistry
{
    /// <summary>Most envelope bytes in one page of <c>GET …/messages</c>: 16 MiB.</summary>
    public const long HistoryPageMaxBytes = 16L * 1024 * 1024;

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
}
