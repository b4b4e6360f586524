namespace EmitHub.Core.Storage;

/// <summary>Sizes and policies of <see cref="FasterChannelStore"/>. Defaults suit a server; tests shrink them.</summary>
public sealed class FasterChannelStoreOptions
{
    /// <summary>The store directory (<c>db_path</c>); created on first start. The FASTER log lives in
    /// <c>&lt;DirectoryPath&gt;/log/</c>.</summary>
    public required string DirectoryPath { get; init; }

    /// <summary>log2 of the FASTER page size in bytes. A record must fit in one page, so this bounds the largest
    /// stored envelope. Default 23 (8 MiB): a 1 MiB <c>message_size_limit</c> whose content is escaped to six bytes
    /// per character still fits.</summary>
    public int PageSizeBits { get; init; } = 23;

    /// <summary>log2 of the in-memory part of the log in bytes (at least two pages). Default 25 (32 MiB, four
    /// pages).</summary>
    public int MemorySizeBits { get; init; } = 25;

    /// <summary>log2 of a segment file's size in bytes; truncation frees whole segments, so smaller segments let
    /// disk use follow retention more closely. Default 26 (64 MiB).</summary>
    public int SegmentSizeBits { get; init; } = 26;

    /// <summary>
    /// How long the committer waits after the first append of a group before it commits, so more appends share
    /// one commit. Default zero: commit as soon as the previous commit finished — appends that arrive while a
    /// commit is in flight already form the next group, which gives the best latency for a lone appender.
    /// </summary>
    public TimeSpan CommitDelay { get; init; } = TimeSpan.Zero;

    /// <summary>A commit that has not completed after this long is treated as failed: pending appends fault and
    /// <see cref="FasterChannelStore.IsHealthy"/> turns false (FASTER can leave a commit pending forever when a
    /// device write fails). Default 30 s.</summary>
    public TimeSpan CommitTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Messages appended but not yet committed, over all channels (<c>[persistence] max_pending_messages</c>); past
    /// it <see cref="IChannelStore.AppendMessageAsync"/> refuses at once with <see cref="StoreBackpressureException"/>
    /// (503 with <c>Retry-After</c>). Default 10,000: group commit keeps this near the number of concurrent
    /// publishers (tens), so 10,000 is only reached when the disk has stopped keeping up for seconds; it bounds the
    /// waiting requests and their held envelopes (FASTER's in-memory log bounds the bytes).
    /// </summary>
    public int MaxPendingMessages { get; init; } = 10_000;

#if EMITHUB_TEST_HOOKS
    /// <summary>Test hook, absent from published binaries: while this file exists the log device holds every write,
    /// as a stalled disk would (<c>EMITHUB_TEST_STORE_STALL_FILE</c>).</summary>
    public string? StallWritesWhileFileExists { get; init; }
#endif

    /// <summary>Compaction runs after retention when live records are less than this fraction of the log's
    /// bytes. Default 0.5: each compaction at least halves the log.</summary>
    public double CompactionLiveFraction { get; init; } = 0.5;

    /// <summary>No compaction while the log is smaller than this many bytes. Default: two segments.</summary>
    public long CompactionMinBytes { get; init; } = -1;

    internal long EffectiveCompactionMinBytes => CompactionMinBytes >= 0 ? CompactionMinBytes : 2L << SegmentSizeBits;
}
