using EmitHub.Core.Channels;

namespace EmitHub.Core.Storage;

/// <summary>
/// The embedded store (SPEC §5): every channel change always, and the messages of channels with
/// <c>persist_messages</c>. The FASTER implementation is the only place FASTER types appear; an in-memory one
/// serves tests. All members are thread-safe.
/// </summary>
public interface IChannelStore : IAsyncDisposable
{
    /// <summary>
    /// Reads the store once at startup: the channels as last saved (deleted ones excluded) and, per persisting
    /// channel, its last stored sequence. A torn or corrupt tail is dropped (reported in
    /// <see cref="StoreRecovery.Warnings"/>); new appends go after the last good record. Never throws for a damaged
    /// log; throws <see cref="IOException"/> only when the directory cannot be used at all.
    /// </summary>
    ValueTask<StoreRecovery> RecoverAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Appends the full state of a channel (create, patch, status change). The record is enqueued before the
    /// method returns; the task completes when it is committed (durable).
    /// </summary>
    ValueTask SaveChannelAsync(ChannelRecord channel, CancellationToken cancellationToken);

    /// <summary>Appends a channel deletion; its stored messages become unreachable and are reclaimed later.</summary>
    ValueTask DeleteChannelAsync(Guid channelId, CancellationToken cancellationToken);

    /// <summary>
    /// Appends one message of a persisting channel. The record is enqueued synchronously before this method
    /// returns, so callers that call it in sequence order (under the channel's lock) store messages in that order;
    /// the returned task completes once the record is committed (group commit). Faults when the commit fails.
    /// </summary>
    ValueTask AppendMessageAsync(StoredMessage message, CancellationToken cancellationToken);

    /// <summary>
    /// Stored messages of <paramref name="channelId"/> with sequence &gt; <paramref name="afterSequence"/>, oldest
    /// first, at most <paramref name="limit"/>, excluding those removed by retention.
    /// </summary>
    ValueTask<IReadOnlyList<StoredMessage>> ReadMessagesAsync(Guid channelId, long afterSequence, int limit, CancellationToken cancellationToken);

    /// <summary>Oldest sequence still stored for the channel, or 0 when none is.</summary>
    long GetFirstStoredSequence(Guid channelId);

    /// <summary>
    /// True when a sequence after <paramref name="afterSequence"/> of the channel was recorded lost (damage found
    /// inside committed data by a recovery): a client resuming from there gets <c>recovered:false</c>.
    /// </summary>
    bool IsLostAfter(Guid channelId, long afterSequence) => false;

    /// <summary>Sentences naming what this process's recovery found lost (channel, sequence range, log bytes); empty
    /// when nothing was. <c>/ready</c> shows them.</summary>
    IReadOnlyList<string> RecoveryLosses => [];

    /// <summary>False after a failed commit or before recovery completed (<c>/ready</c> answers 503).</summary>
    bool IsHealthy { get; }

    /// <summary>Applies <c>message_retention_days</c> and <c>max_messages_per_channel</c> at <paramref name="now"/>;
    /// removes messages logically at once and reclaims log space when it can.</summary>
    ValueTask ApplyRetentionAsync(DateTimeOffset now, int retentionDays, int maxMessagesPerChannel, CancellationToken cancellationToken);

    /// <summary>Writes a consistent copy into <paramref name="directory"/> that a server can start from.</summary>
    ValueTask BackupAsync(string directory, CancellationToken cancellationToken);

    /// <summary>Commits everything appended so far and waits for it (graceful stop).</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken);
}

/// <summary>The full persisted state of one channel. <see cref="LastSequence"/> is informational; messages
/// decide the sequence of persisting channels on recovery.</summary>
public sealed record ChannelRecord(
    Guid Id,
    string Name,
    string? Description,
    ChannelStatus Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    ChannelSettings Settings,
    string Epoch,
    long LastSequence,
    long MessagesSent);

/// <summary>One stored <c>broadcast</c> or <c>client_message</c>: its sequence, time and the exact envelope JSON
/// (UTF-8) that clients received, so replay and history send the same bytes.</summary>
public sealed record StoredMessage(Guid ChannelId, long Sequence, DateTimeOffset Timestamp, ReadOnlyMemory<byte> EnvelopeJson);

/// <summary>What <see cref="IChannelStore.RecoverAsync"/> found.</summary>
/// <param name="Channels">Channels alive at the end of the log, in creation order.</param>
/// <param name="LastSequences">Per channel, the highest stored message sequence (persisting channels only).</param>
/// <param name="Warnings">Human sentences for anything dropped (torn tail, bad checksum).</param>
public sealed record StoreRecovery(
    IReadOnlyList<ChannelRecord> Channels,
    IReadOnlyDictionary<Guid, long> LastSequences,
    IReadOnlyList<string> Warnings);

/// <summary>The store is damaged inside committed data in a way recovery cannot account for (a channel record was
/// lost); the message says what was found and how to start anyway (<c>--recover-skip-corrupt</c>).</summary>
public sealed class StoreCorruptException : IOException
{
    /// <summary>Creates the exception with an operator-facing sentence.</summary>
    public StoreCorruptException(string message) : base(message)
    {
    }
}

/// <summary>The store directory is held by another process (its <c>LOCK</c> file is taken).</summary>
public sealed class StoreInUseException : IOException
{
    /// <summary>Creates the exception with an operator-facing sentence.</summary>
    public StoreInUseException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
