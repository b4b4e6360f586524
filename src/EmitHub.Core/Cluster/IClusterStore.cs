using EmitHub.Core.Storage;

namespace EmitHub.Core.Cluster;

/// <summary>
/// The store of record shared by the nodes of a cluster (issue 11): channels and every change to them, and the
/// messages of every channel, ordered once for all nodes. The registry uses it instead of the embedded store when
/// <c>[cluster] nats_url</c> is set; the NATS JetStream implementation lives in EmitHub.Cluster, so Core stays free
/// of sockets. A node does not change its own state when it proposes a change: every change, its own included,
/// reaches it through <see cref="IClusterChangeSink"/>, so every node applies the same changes in the same order.
/// The members of <see cref="IChannelStore"/> serve history reads; its write members are not used in a cluster.
/// </summary>
public interface IClusterStore : IChannelStore
{
    /// <summary>This node's name (logs, NATS connection name).</summary>
    string NodeName { get; }

    /// <summary>True while the connection to the store of record is up (<c>/ready</c>'s <c>nats</c> check).</summary>
    bool IsConnected { get; }

    /// <summary>
    /// Starts the change feed after <see cref="IChannelStore.RecoverAsync"/>: every channel change with a revision
    /// above what recovery returned goes to <paramref name="sink"/>, in revision order, until disposal; a lost
    /// connection resumes where it stopped.
    /// </summary>
    void StartChangeFeed(IClusterChangeSink sink);

    /// <summary>Revision of each channel as <see cref="IChannelStore.RecoverAsync"/> found it.</summary>
    IReadOnlyDictionary<Guid, ulong> RecoveredRevisions { get; }

    /// <summary>
    /// Writes a channel's full state if its stored revision is still <paramref name="expectedRevision"/> (0: the
    /// channel must not exist yet). Returns the new revision. Throws <see cref="ClusterConflictException"/> when
    /// another node changed it first, <see cref="ClusterUnavailableException"/> when the store cannot be reached.
    /// </summary>
    ValueTask<ulong> PutChannelAsync(ChannelRecord record, ulong expectedRevision, CancellationToken cancellationToken);

    /// <summary>Removes a channel and its messages. Throws <see cref="ClusterUnavailableException"/>.</summary>
    ValueTask RemoveChannelAsync(Guid channelId, CancellationToken cancellationToken);

    /// <summary>
    /// Appends the channel's next message and returns once the store of record acknowledged it, with the sequence it
    /// gave the message: the channel's last sequence + 1, cluster-wide, gap-free however many nodes append at once.
    /// <paramref name="envelope"/> builds the envelope JSON without <c>sequence</c>; the store adds it as the last
    /// member when the message is read. Throws <see cref="ClusterUnavailableException"/> when not acknowledged (the
    /// message may then still have been stored: an acknowledgement can be lost after the write).
    /// </summary>
    ValueTask<ClusterAppend> AppendAsync(Guid channelId, ClusterEnvelopeFactory envelope, CancellationToken cancellationToken);

    /// <summary>
    /// Makes this node receive the channel's messages while the returned lease is held (reference-counted: one lease
    /// per local subscriber). A channel not followed yet (or no longer) starts: first
    /// <see cref="IClusterChangeSink.OnFollowStarted"/> with the position, then the latest <paramref name="recent"/>
    /// stored messages and every later one through <see cref="IClusterChangeSink.OnMessage"/>, in sequence order,
    /// without gap (a gap is filled from the store before going on). A channel whose last lease was released keeps
    /// being followed for <c>[cluster] unfollow_delay</c>; a lease taken within it reuses the running follower (no
    /// restart, nothing missed). After the delay the follower stops and the sink gets
    /// <see cref="IClusterChangeSink.OnFollowStopped"/> once its last message was delivered; a later lease starts a new
    /// follower only after that, so the sink never sees two followers of one channel at once.
    /// </summary>
    /// <param name="channelId">The channel.</param>
    /// <param name="recent">How many stored messages before the live ones a starting follower delivers (the catch-up ring).</param>
    IClusterFollowLease Follow(Guid channelId, int recent);

    /// <summary>Channels this node follows now, those lingering after their last subscriber left included.</summary>
    int FollowedChannels { get; }

    /// <summary>Followers started since this node started (first follows and re-follows after an unfollow).</summary>
    long FollowsStarted { get; }

    /// <summary>Followers stopped since this node started: unfollowed after the delay, or the channel deleted.</summary>
    long FollowsStopped { get; }

    /// <summary>Oldest sequence still stored for the channel, 0 when none is (asked of the store of record).</summary>
    ValueTask<long> GetFirstSequenceAsync(Guid channelId, CancellationToken cancellationToken);
}

/// <summary>Builds the envelope JSON (UTF-8) of a message with its timestamp and without its <c>sequence</c> member,
/// as an array the store takes over (it is published as is, not copied).</summary>
public delegate byte[] ClusterEnvelopeFactory(DateTimeOffset timestamp);

/// <summary>A message the store of record acknowledged: its channel sequence and timestamp.</summary>
public readonly record struct ClusterAppend(long Sequence, DateTimeOffset Timestamp);

/// <summary>Receives the changes of the store of record, each once, in order (per channel).</summary>
public interface IClusterChangeSink
{
    /// <summary>A channel was created or changed (status, settings, name) by any node.</summary>
    void OnChannelChanged(ChannelRecord record, ulong revision);

    /// <summary>A channel was deleted by any node.</summary>
    void OnChannelDeleted(Guid channelId);

    /// <summary>Following starts after <paramref name="lastSequence"/>: the next message delivered has the sequence after it.</summary>
    void OnFollowStarted(Guid channelId, long lastSequence);

    /// <summary>
    /// The node stopped following the channel (its last subscriber left <c>unfollow_delay</c> ago); nothing more
    /// arrives for it until the next <see cref="OnFollowStarted"/>. What the node holds from the stream (recent
    /// messages) is stale from now on and may be dropped. Not called for a deleted channel.
    /// </summary>
    void OnFollowStopped(Guid channelId);

    /// <summary>The channel's next message, <paramref name="sequence"/> = the previous one + 1.</summary>
    void OnMessage(Guid channelId, long sequence, ReadOnlySpan<byte> envelopeJson);

    /// <summary>The connection to the store of record was lost (false) or is back (true).</summary>
    void OnConnectionChanged(bool connected);
}

/// <summary>Another node changed the channel first; re-read and decide again.</summary>
public sealed class ClusterConflictException(string message) : Exception(message);

/// <summary>The store of record cannot be reached or did not acknowledge in time; nothing was changed or may have been.</summary>
public sealed class ClusterUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The message is larger than the store of record accepts (NATS <c>max_payload</c>, 1 MB by default): refused before
/// it was sent, so nothing was stored. <see cref="Size"/> and <see cref="Limit"/> are envelope bytes.
/// </summary>
public sealed class ClusterMessageTooLargeException(long size, long limit)
    : Exception($"The message envelope is {size} bytes; the NATS server accepts at most {limit} bytes per message (its max_payload).")
{
    /// <summary>Envelope bytes of the refused message.</summary>
    public long Size { get; } = size;

    /// <summary>Largest envelope the NATS server accepts (its <c>max_payload</c> less the headers EmitHub sends).</summary>
    public long Limit { get; } = limit;
}
