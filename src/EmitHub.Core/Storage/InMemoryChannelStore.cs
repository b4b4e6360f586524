using EmitHub.Core.Channels;

namespace EmitHub.Core.Storage;

/// <summary>
/// A store that keeps everything in process memory and commits instantly. For tests and benchmarks that need
/// the store's semantics without a disk; nothing survives the process.
/// </summary>
public sealed class InMemoryChannelStore : IChannelStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, ChannelRecord> _channels = new();
    private readonly List<Guid> _order = new();
    private readonly Dictionary<Guid, List<StoredMessage>> _messages = new();

    /// <inheritdoc />
    public bool IsHealthy { get; set; } = true;

    /// <inheritdoc />
    public ValueTask<StoreRecovery> RecoverAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var channels = _order.Where(_channels.ContainsKey).Select(id => _channels[id]).ToList();
            var last = _messages.Where(kv => kv.Value.Count > 0).ToDictionary(kv => kv.Key, kv => kv.Value[^1].Sequence);
            return ValueTask.FromResult(new StoreRecovery(channels, last, []));
        }
    }

    /// <inheritdoc />
    public ValueTask SaveChannelAsync(ChannelRecord channel, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_channels.ContainsKey(channel.Id))
            {
                _order.Add(channel.Id);
            }
            _channels[channel.Id] = channel;
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask DeleteChannelAsync(Guid channelId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _channels.Remove(channelId);
            _order.Remove(channelId);
            _messages.Remove(channelId);
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask AppendMessageAsync(StoredMessage message, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_messages.TryGetValue(message.ChannelId, out var list))
            {
                _messages[message.ChannelId] = list = new List<StoredMessage>();
            }
            list.Add(message with { EnvelopeJson = message.EnvelopeJson.ToArray() });
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>Added before every <see cref="ReadMessagesAsync"/> answer: a slow disk under a client's catch-up
    /// (tests). Zero by default.</summary>
    public TimeSpan ReadDelay { get; set; }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<StoredMessage>> ReadMessagesAsync(Guid channelId, long afterSequence, int limit, CancellationToken cancellationToken) =>
        ReadDelay > TimeSpan.Zero ? ReadSlowlyAsync(channelId, afterSequence, limit, cancellationToken) : Read(channelId, afterSequence, limit);

    private async ValueTask<IReadOnlyList<StoredMessage>> ReadSlowlyAsync(Guid channelId, long afterSequence, int limit, CancellationToken cancellationToken)
    {
        await Task.Delay(ReadDelay, cancellationToken).ConfigureAwait(false);
        return await Read(channelId, afterSequence, limit).ConfigureAwait(false);
    }

    private ValueTask<IReadOnlyList<StoredMessage>> Read(Guid channelId, long afterSequence, int limit)
    {
        lock (_lock)
        {
            IReadOnlyList<StoredMessage> result = _messages.TryGetValue(channelId, out var list)
                ? list.Where(m => m.Sequence > afterSequence).Take(limit).ToList()
                : [];
            return ValueTask.FromResult(result);
        }
    }

    /// <inheritdoc />
    public long GetFirstStoredSequence(Guid channelId)
    {
        lock (_lock)
        {
            return _messages.TryGetValue(channelId, out var list) && list.Count > 0 ? list[0].Sequence : 0;
        }
    }

    /// <inheritdoc />
    public ValueTask ApplyRetentionAsync(DateTimeOffset now, int retentionDays, int maxMessagesPerChannel, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var cutoff = now.AddDays(-retentionDays);
            foreach (var list in _messages.Values)
            {
                list.RemoveAll(m => m.Timestamp < cutoff);
                if (list.Count > maxMessagesPerChannel)
                {
                    list.RemoveRange(0, list.Count - maxMessagesPerChannel);
                }
            }
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask BackupAsync(string directory, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <inheritdoc />
    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
