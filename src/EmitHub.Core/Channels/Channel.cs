using EmitHub.Core.Fanout;
using EmitHub.Core.Storage;

namespace EmitHub.Core.Channels;

/// <summary>
/// The live state of one channel. Every mutation (status, settings, sequence, joins) happens under
/// <see cref="Gate"/>; the broadcast fan-out walks the subscriber slot array (<see cref="ChannelHub"/>) without the lock.
/// </summary>
internal sealed class Channel
{
    /// <summary>How many recent messages a persisting channel keeps in memory to join a replay to the live stream.</summary>
    public const int RecentCapacity = 256;

    /// <summary>Most bytes of those recent messages kept in memory: 4 MiB. Past it a joining client catches up from
    /// the store instead, so large messages do not pin memory (256 × 1 MiB would be 256 MiB per channel).</summary>
    public const long RecentMaxBytes = 4L * 1024 * 1024;

    public Channel(Guid id, string name, string? description, ChannelStatus status, DateTimeOffset createdAt,
        DateTimeOffset updatedAt, ChannelSettings settings, string epoch, TimeProvider time,
        ByteBudget? replayLastBudget = null, ByteBudget? catchUpBudget = null)
    {
        Id = id;
        Name = name;
        Description = description;
        Status = status;
        CreatedAt = createdAt;
        UpdatedAt = updatedAt;
        Settings = settings;
        Epoch = epoch;
        LastBroadcasts = new MessageRing(settings.ReplayLast, budget: replayLastBudget);
        Recent = new MessageRing(settings.PersistMessages ? RecentCapacity : 0, RecentMaxBytes, catchUpBudget);
        _time = time;
        BroadcastLimiter = GcraRateLimiter.Create(settings.RateLimitPerMinute, time);
    }

    private readonly TimeProvider _time;
    private long _committedThrough;
    private int _drainRequested;
    private int _draining;

    public Lock Gate { get; } = new();

    /// <summary>Position in creation order (recovered channels keep the log's order), for "oldest first" lists
    /// where two channels share a millisecond.</summary>
    public long Order { get; init; }
    public Guid Id { get; }
    public string Name { get; set; }
    public string? Description { get; set; }
    public ChannelStatus Status { get; set; }
    public DateTimeOffset CreatedAt { get; }
    public DateTimeOffset UpdatedAt { get; set; }
    public ChannelSettings Settings { get; private set; }
    public string Epoch { get; set; }

    /// <summary>In a cluster: the revision of the channel's state in the store of record that this node applied last.</summary>
    public ulong Revision { get; set; }
    /// <summary>Last sequence assigned (stored or not yet committed).</summary>
    public long LastSequence { get; set; }

    /// <summary>Last sequence sent to clients and held in <see cref="Recent"/>. On a persisting channel it trails
    /// <see cref="LastSequence"/> while appends wait for their commit: a client is never sent a message a crash could
    /// still lose, so the sequence it holds for <c>?after=</c> always names a stored message.</summary>
    public long PublishedSequence { get; set; }

    /// <summary>Highest stored sequence known committed; commits cover a prefix of the log, and a channel's messages
    /// are appended in sequence order, so every stored sequence up to it is committed too.</summary>
    public long CommittedThrough => Volatile.Read(ref _committedThrough);

    /// <summary>Raises <see cref="CommittedThrough"/> to <paramref name="sequence"/> (never lowers it); lock-free.</summary>
    public void MarkCommitted(long sequence)
    {
        long seen;
        while ((seen = Volatile.Read(ref _committedThrough)) < sequence
            && Interlocked.CompareExchange(ref _committedThrough, sequence, seen) != seen)
        {
        }
    }

    /// <summary>Puts the channel at <paramref name="sequence"/>, known stored: the last assigned, the last sent and
    /// the committed sequence agree (recovery, a cluster follower's start).</summary>
    public void ResumeAt(long sequence)
    {
        LastSequence = sequence;
        PublishedSequence = sequence;
        MarkCommitted(sequence);
    }

    /// <summary>
    /// Asks for a pass over <see cref="Pending"/> and returns true when the caller must run it. One thread drains at a
    /// time; a request made while another drains is picked up by that drainer's next pass, so commit waiters never
    /// queue on <see cref="Gate"/> behind a long drain (on two cores, blocked pool threads stall the commits too).
    /// Drainer: <c>while (TryBeginDrain()) { BeginDrainPass(); lock + drain; EndDrain(); }</c>.
    /// </summary>
    public void RequestDrain() => Interlocked.Exchange(ref _drainRequested, 1);

    public bool TryBeginDrain() => Volatile.Read(ref _drainRequested) == 1 && Interlocked.CompareExchange(ref _draining, 1, 0) == 0;

    public void BeginDrainPass() => Interlocked.Exchange(ref _drainRequested, 0);

    public void EndDrain() => Interlocked.Exchange(ref _draining, 0);

    /// <summary>What waits to be published, in order: stored messages until their commit, and whatever was emitted
    /// behind them (messages of a channel that stopped persisting, status notices), so clients see channel order.</summary>
    public Queue<PendingEmit> Pending { get; } = new();

    public long MessagesSent { get; set; }

    /// <summary>Joined plus joining (replaying) connections: what <c>max_connections</c> bounds.</summary>
    public int Connections { get; set; }
    public bool Deleted { get; set; }

    /// <summary>Counts stops and the delete. A client that reserved its slot under one value and joins under another
    /// missed a stop during its catch-up: it gets <c>stopped</c> and is closed like the clients the stop found.</summary>
    public int StopGeneration { get; set; }

    /// <summary>True when the last <c>paused</c>/<c>resumed</c> notice that reached the subscribers was <c>paused</c>:
    /// a client joining after a store catch-up is told, since it was not in the set when the notice went out.</summary>
    public bool AnnouncedPaused { get; set; }
    public ChannelHub Subscribers { get; } = new();
    /// <summary>Replaced (never disposed) when the rate changes, so a broadcast holding the old one still gets an answer.</summary>
    public GcraRateLimiter? BroadcastLimiter { get; private set; }
    public MessageRing LastBroadcasts { get; }
    public MessageRing Recent { get; }

    public void ApplySettings(ChannelSettings next)
    {
        var previous = Settings;
        Settings = next;
        LastBroadcasts.Resize(next.ReplayLast);
        Recent.Resize(next.PersistMessages ? RecentCapacity : 0);
        if (previous.RateLimitPerMinute != next.RateLimitPerMinute)
        {
            BroadcastLimiter = GcraRateLimiter.Create(next.RateLimitPerMinute, _time);
        }
    }

    public ChannelSnapshot Snapshot() => new(Id, Name, Description, Status, CreatedAt, UpdatedAt,
        ChannelSettingsJson.From(Settings), new ChannelStats(Subscribers.Count, MessagesSent));

    public ChannelRecord ToRecord() => new(Id, Name, Description, Status, CreatedAt, UpdatedAt, Settings, Epoch, LastSequence, MessagesSent);

    public void ReleaseResources()
    {
        while (Pending.TryDequeue(out var pending))
        {
            pending.Drop();
        }
        LastBroadcasts.Clear();
        Recent.Clear();
    }
}
