using FASTER.core;

namespace EmitHub.Core.Storage;

public sealed partial class FasterChannelStore
{
    /// <inheritdoc />
    /// <remarks>
    /// FASTER recovers the log to its last commit (begin address, committed-until address); anything appended after
    /// that commit was never acknowledged and is gone. The store then scans every record from the begin address and
    /// verifies each one itself (version, kind, lengths, CRC-32C, and no unexplained gap between records), because a
    /// segment file cut short or zero-filled after the commit hides records FASTER believes committed. The first bad
    /// record ends the good log: a warning names its log address and the bytes dropped, the good records are rewritten
    /// at the tail and the head is truncated past the damage, so the next recovery starts from clean records and new
    /// appends go after the last good one.
    /// </remarks>
    public async ValueTask<StoreRecovery> RecoverAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_ready || _log is not null)
        {
            throw new InvalidOperationException("RecoverAsync was already called.");
        }
        var root = _options.DirectoryPath;
        var logDirectory = Path.Combine(root, LogDirectoryName);
        try
        {
            Directory.CreateDirectory(logDirectory);
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new IOException($"The store directory '{root}' cannot be used: {ex.Message}", ex);
        }
        _directoryLock = AcquireLock(root);

        var warnings = new List<string>();
        try
        {
            (_device, _log) = OpenLog(logDirectory, recover: true);
            if (_log.TailAddress <= _log.BeginAddress && HasSegmentData(logDirectory))
            {
                // FASTER found no usable commit yet segment files hold data: appending would overwrite it.
                MoveAside("no readable commit metadata was found for the existing log segments");
            }
        }
        catch (Exception ex)
        {
            // FASTER could not recover at all: keep the damaged files for a human, start empty rather than refuse.
            MoveAside(ex.Message);
        }

        void MoveAside(string reason)
        {
            CloseLog();
            var aside = Path.Combine(root, $"damaged-{DateTime.UtcNow:yyyyMMddTHHmmssfffZ}");
            Directory.Move(logDirectory, aside);
            warnings.Add($"The log could not be recovered ({reason}); it was moved to '{aside}' and the store starts empty.");
            (_device, _log) = OpenLog(logDirectory, recover: true);
        }

        var log = _log!;
        var scan = ScanLog(log, logDirectory, warnings);
        if (scan.Untrusted is { } untrusted && !_options.RecoverSkipCorrupt)
        {
            CloseLog();
            _directoryLock?.Dispose();
            _directoryLock = null;
            throw new StoreCorruptException(
                $"The store '{Path.GetFullPath(root)}' is damaged inside committed data and recovery cannot be trusted: {untrusted}. "
                + $"Lost so far: {(scan.Losses.Count == 0 ? "no message sequences identified" : string.Join("; ", scan.Losses))}. "
                + "Restore a backup (db_path/backups/), or start once with --recover-skip-corrupt to keep every record that still verifies and record the losses.");
        }
        var lastSequences = new Dictionary<Guid, long>();
        var channels = new List<ChannelRecord>();
        long messages = 0;
        lock (_lock)
        {
            foreach (var state in scan.Channels.Values.OrderBy(s => s.Order))
            {
                _channels[state.Record.Id] = state;
                channels.Add(state.Record);
                messages += state.Messages.Count;
                if (state.LastSequence > 0)
                {
                    lastSequences[state.Record.Id] = state.LastSequence;
                }
            }
            _nextOrder = scan.Channels.Count == 0 ? 0 : scan.Channels.Values.Max(s => s.Order) + 1;
        }

        _committer = Task.Run(CommitLoopAsync, CancellationToken.None);
        _ready = true;
        if (scan.NewGaps.Count > 0)
        {
            // Durable before anything is served: a later restart must still refuse these sequences and report the
            // gap to resuming clients, after the compaction below has removed the damaged bytes themselves.
            long address = -1;
            foreach (var (channelId, first, last) in scan.NewGaps)
            {
                address = log.Enqueue(StoreRecordCodec.EncodeGap(channelId, first, last));
            }
            await WaitForCommitAsync(address, cancellationToken).ConfigureAwait(false);
        }
        _recoveryLosses = scan.Losses;
        foreach (var loss in scan.Losses)
        {
            LogRecoveryLoss(loss);
        }
        if (scan.Untrusted is { } accepted)
        {
            LogRecoveryLoss($"started with --recover-skip-corrupt although {accepted}");
        }
        if (scan.Damaged)
        {
            // Rewrite the good records past the damage and truncate it away, so it is not met again.
            await _maintenance.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await CompactCoreAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _maintenance.Release();
            }
        }
        foreach (var warning in warnings)
        {
            LogRecoveryWarning(warning);
        }
        LogRecovered(root, channels.Count, messages, log.BeginAddress, log.TailAddress);
        return new StoreRecovery(channels, lastSequences, warnings);
    }

    private static bool HasSegmentData(string logDirectory) =>
        Directory.EnumerateFiles(logDirectory, LogFileName + ".*").Any(f => new FileInfo(f).Length > 0);

    private (IDevice Device, FasterLog Log) OpenLog(string logDirectory, bool recover)
    {
        Directory.CreateDirectory(logDirectory);
        var device = Devices.CreateLogDevice(Path.Combine(logDirectory, LogFileName), preallocateFile: false, deleteOnClose: false, recoverDevice: true);
#if EMITHUB_TEST_HOOKS
        if (_options.StallWritesWhileFileExists is { } stallFile)
        {
            device = new StallingLogDevice(device, stallFile);
        }
#endif
        try
        {
            var settings = new FasterLogSettings
            {
                LogDevice = device,
                PageSizeBits = _options.PageSizeBits,
                MemorySizeBits = _options.MemorySizeBits,
                SegmentSizeBits = _options.SegmentSizeBits,
                LogCommitDir = logDirectory,
                LogChecksum = LogChecksumType.None,
                TryRecoverLatest = recover,
                RemoveOutdatedCommits = true,
                AutoCommit = false,
                AutoRefreshSafeTailAddress = false,
            };
            return (device, new FasterLog(settings));
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    private sealed class ScanResult
    {
        public Dictionary<Guid, ChannelState> Channels { get; } = new();
        /// <summary>Bad bytes were found (torn tail or inside committed data): rewrite the good records.</summary>
        public bool Damaged { get; set; }
        /// <summary>Sequences found lost inside committed data, to record as Gap records.</summary>
        public List<(Guid Channel, long First, long Last)> NewGaps { get; } = new();
        /// <summary>Operator sentences naming each loss (channel, sequence range, log addresses).</summary>
        public List<string> Losses { get; } = new();
        /// <summary>Why the recovered state cannot be trusted (a channel record was lost), or null.</summary>
        public string? Untrusted { get; set; }
    }

    /// <summary>
    /// Reads every record from the begin address to the recovered (committed) tail into channel states and indexes.
    /// <para>
    /// The scan reads the segment files itself rather than through FASTER's iterator: FASTER's scan trusts each
    /// entry's 4-byte length, so one damaged length or a zeroed stretch (which it takes for the end of a page) makes
    /// it skip or stop, and everything after would be lost. Address A lives in file <c>hub.log.(A &gt;&gt;
    /// SegmentSizeBits)</c> at offset <c>A mod 2^SegmentSizeBits</c>; entries are a 4-byte length and the record,
    /// aligned to 4 bytes, and never cross a FASTER page (the rest of a page is zero when the next entry did not fit).
    /// </para>
    /// <para>
    /// An entry that does not verify (length, magic, CRC-32C) starts a damaged range; the scan then looks, at every
    /// 4-byte-aligned address after it, for our record magic followed by a record that verifies, and resumes there
    /// (at the latest at the next page, whose first entry starts at its first byte). Damage followed by no verifying
    /// record is a torn tail: dropped with a warning, as before. Damage followed by verifying records is a loss
    /// inside committed data, accounted per channel (<see cref="AccountLosses"/>).
    /// </para>
    /// </summary>
    private ScanResult ScanLog(FasterLog log, string logDirectory, List<string> warnings)
    {
        var result = new ScanResult();
        var pending = new Dictionary<Guid, List<MessageIndexEntry>>();
        var trims = new Dictionary<Guid, long>();
        var gaps = new Dictionary<Guid, List<(long First, long Last)>>();
        var created = new Dictionary<Guid, long>();
        var orphans = new HashSet<Guid>();
        long order = 0;
        var pageSize = 1L << _options.PageSizeBits;
        var begin = log.BeginAddress;
        var tail = log.TailAddress;
        long goodRecords = 0;
        var damaged = new List<(long Start, long End, string Reason, bool ChannelRecord)>();
        long damageStart = -1;
        string? damageReason = null;
        var damageIsChannelRecord = false;
        var buffer = new byte[Math.Min(pageSize, Math.Max(0, tail - (begin & ~(pageSize - 1))))];

        using (var segments = new SegmentFileReader(logDirectory, LogFileName, _options.SegmentSizeBits))
        {
            for (var pageStart = begin & ~(pageSize - 1); pageStart < tail; pageStart += pageSize)
            {
                var from = Math.Max(pageStart, begin);
                var to = Math.Min(pageStart + pageSize, tail);
                var page = buffer.AsSpan(0, (int)(to - pageStart));
                segments.Read(pageStart, page);
                var pos = from;
                while (pos < to)
                {
                    if (damageStart < 0)
                    {
                        if (TryParseEntry(page, (int)(pos - pageStart), out var entry, out var record, out var error))
                        {
                            goodRecords++;
                            Apply(record, pos, entry.Length);
                            pos += 4 + ((entry.Length + 3) & ~3);
                            continue;
                        }
                        if (!page[(int)(pos - pageStart)..].ContainsAnyExcept((byte)0))
                        {
                            // FASTER's fill after the last entry of a page.
                            break;
                        }
                        damageStart = pos;
                        damageReason = error;
                        damageIsChannelRecord = LooksLikeChannelRecord(page[(int)(pos - pageStart)..]);
                        pos += 4;
                    }
                    var resync = FindNextRecord(page, (int)(pos - pageStart));
                    if (resync < 0)
                    {
                        break;
                    }
                    damaged.Add((damageStart, pageStart + resync, damageReason!, damageIsChannelRecord));
                    damageStart = -1;
                    pos = pageStart + resync;
                }
            }
        }

        void Apply(StoreRecord record, long address, int length)
        {
            switch (record.Kind)
            {
                case StoreRecordKind.ChannelUpsert:
                    if (result.Channels.TryGetValue(record.ChannelId, out var state))
                    {
                        if (state.Record.Epoch != record.Channel!.Epoch)
                        {
                            pending.Remove(record.ChannelId);
                            trims.Remove(record.ChannelId);
                            gaps.Remove(record.ChannelId);
                        }
                        state.Record = record.Channel!;
                    }
                    else
                    {
                        result.Channels[record.ChannelId] = new ChannelState(record.Channel!, order++);
                        created[record.ChannelId] = address;
                    }
                    break;
                case StoreRecordKind.ChannelDelete:
                    result.Channels.Remove(record.ChannelId);
                    pending.Remove(record.ChannelId);
                    trims.Remove(record.ChannelId);
                    gaps.Remove(record.ChannelId);
                    created.Remove(record.ChannelId);
                    break;
                case StoreRecordKind.Message:
                    if (!result.Channels.ContainsKey(record.ChannelId))
                    {
                        // A message of a channel never created (or deleted before it): its creation may be lost.
                        orphans.Add(record.ChannelId);
                        break;
                    }
                    if (!pending.TryGetValue(record.ChannelId, out var list))
                    {
                        pending[record.ChannelId] = list = new List<MessageIndexEntry>();
                    }
                    list.Add(new MessageIndexEntry
                    {
                        Sequence = record.Sequence,
                        Address = address,
                        TimestampUtcTicks = record.TimestampUtcTicks,
                        Length = length,
                    });
                    break;
                case StoreRecordKind.Trim:
                    trims[record.ChannelId] = Math.Max(trims.GetValueOrDefault(record.ChannelId), record.Sequence);
                    break;
                case StoreRecordKind.Gap:
                    if (!gaps.TryGetValue(record.ChannelId, out var known))
                    {
                        gaps[record.ChannelId] = known = new List<(long, long)>();
                    }
                    if (!known.Contains((record.Sequence, record.GapLast)))
                    {
                        known.Add((record.Sequence, record.GapLast));
                    }
                    break;
            }
        }

        if (damageStart >= 0)
        {
            // Nothing verifies after it: a torn tail (SPEC §5), dropped with a warning as always.
            result.Damaged = true;
            warnings.Add($"Dropped a torn or corrupt log tail at log address {damageStart}: {Math.Max(0, tail - damageStart)} bytes up to the committed tail {tail} ({damageReason}); {goodRecords} good records kept.");
        }

        foreach (var (channelId, state) in result.Channels)
        {
            state.FirstKept = trims.GetValueOrDefault(channelId);
            if (gaps.TryGetValue(channelId, out var known))
            {
                state.Gaps.AddRange(known);
            }
            if (!pending.TryGetValue(channelId, out var list))
            {
                continue;
            }
            // A compaction copies messages to the tail, after newer ones, and a crash before its truncation
            // leaves both copies: order by sequence and keep the later copy.
            list.Sort(static (a, b) => a.Sequence != b.Sequence ? a.Sequence.CompareTo(b.Sequence) : a.Address.CompareTo(b.Address));
            for (var i = 0; i < list.Count; i++)
            {
                var item = list[i];
                if (item.Sequence < state.FirstKept || (i + 1 < list.Count && list[i + 1].Sequence == item.Sequence))
                {
                    continue;
                }
                state.Messages.Add(item);
            }
        }

        if (damaged.Count > 0)
        {
            result.Damaged = true;
            AccountLosses(result, damaged, created);
            if (orphans.Count > 0 || damaged.Any(d => d.ChannelRecord))
            {
                result.Untrusted = orphans.Count > 0
                    ? $"records of {orphans.Count} channel(s) that have no surviving creation record were found ({string.Join(", ", orphans.Take(5))}), so channel records were lost in the damaged range"
                    : "a damaged record reads as a channel change (create, patch, status change or delete), so a channel's settings or status may be older than acknowledged";
            }
        }
        return result;
    }

    /// <summary>
    /// Turns damaged ranges inside committed data into per-channel losses. A persisting channel appends in sequence
    /// order, so sequences missing between two verifying messages that lie on both sides of a damaged range were in
    /// it: an exact range. A channel whose last verifying message (or, with none, its creation) precedes a damaged
    /// range may have had newer messages in it; how many is unknown, but at most (range bytes / smallest message
    /// entry), so that many sequences after its last one are recorded lost: none of them is ever handed out again.
    /// </summary>
    private static void AccountLosses(ScanResult result, List<(long Start, long End, string Reason, bool ChannelRecord)> damaged,
        Dictionary<Guid, long> created)
    {
        foreach (var (channelId, state) in result.Channels)
        {
            var name = state.Record.Name;
            var index = state.Messages;
            var previousSequence = Math.Max(state.FirstKept, 1) - 1;
            var previousAddress = created.GetValueOrDefault(channelId);
            for (var i = 0; i < index.Count; i++)
            {
                var entry = index[i];
                if (entry.Sequence > previousSequence + 1)
                {
                    var low = Math.Min(previousAddress, entry.Address);
                    var high = Math.Max(previousAddress, entry.Address);
                    foreach (var range in damaged)
                    {
                        if (range.Start >= low && range.Start < high)
                        {
                            AddLoss(result, state, channelId, name, previousSequence + 1, entry.Sequence - 1, range, exact: true);
                            break;
                        }
                    }
                }
                previousSequence = entry.Sequence;
                previousAddress = entry.Address;
            }
            if (!state.Record.Settings.PersistMessages && index.Count == 0)
            {
                continue;
            }
            var last = Math.Max(previousSequence, state.Gaps.Count == 0 ? 0 : state.Gaps.Max(g => g.Last));
            foreach (var range in damaged)
            {
                if (range.Start > previousAddress)
                {
                    var most = (range.End - range.Start) / (4 + StoreRecordCodec.MinMessageLength) + 1;
                    AddLoss(result, state, channelId, name, last + 1, last + most, range, exact: false);
                    last += most;
                }
            }
        }
    }

    private static void AddLoss(ScanResult result, ChannelState state, Guid channelId, string name, long first, long last,
        (long Start, long End, string Reason, bool ChannelRecord) range, bool exact)
    {
        if (state.Gaps.Any(g => g.First <= first && g.Last >= last))
        {
            return;
        }
        state.Gaps.Add((first, last));
        result.NewGaps.Add((channelId, first, last));
        result.Losses.Add(exact
            ? $"channel {channelId} ({name}) lost messages {first}..{last}: damaged log bytes {range.Start}..{range.End} ({range.Reason})"
            : $"channel {channelId} ({name}) may have lost messages {first}..{last} (at most {last - first + 1}, their number is unknown): damaged log bytes {range.Start}..{range.End} ({range.Reason}) come after its last surviving message; these sequences will not be used again");
    }

    /// <summary>Parses the FASTER entry at <paramref name="offset"/> of <paramref name="page"/> (length, record).</summary>
    private static bool TryParseEntry(ReadOnlySpan<byte> page, int offset, out ReadOnlySpan<byte> entry, out StoreRecord record, out string? error)
    {
        entry = default;
        record = default;
        if (offset + 4 > page.Length)
        {
            error = "entry header cut by the end of the log";
            return false;
        }
        var length = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(page[offset..]);
        if (length <= 0 || length > page.Length - offset - 4)
        {
            error = length == 0 ? "zeroed bytes where a record should be" : $"entry length {length} does not fit in its page";
            return false;
        }
        entry = page.Slice(offset + 4, length);
        return StoreRecordCodec.TryRead(entry, out record, out error);
    }

    /// <summary>The page offset of the next entry at or after <paramref name="from"/> whose record carries the magic
    /// and verifies, or -1.</summary>
    private static int FindNextRecord(ReadOnlySpan<byte> page, int from)
    {
        var searchFrom = from + 4;
        while (searchFrom < page.Length)
        {
            var hit = page[searchFrom..].IndexOf(StoreRecordCodec.Magic);
            if (hit < 0)
            {
                return -1;
            }
            var candidate = searchFrom + hit - 4;
            if ((candidate & 3) == 0 && TryParseEntry(page, candidate, out _, out _, out _))
            {
                return candidate;
            }
            searchFrom += hit + 1;
        }
        return -1;
    }

    /// <summary>True when the damaged entry's own header (magic, kind) still reads as a channel change.</summary>
    private static bool LooksLikeChannelRecord(ReadOnlySpan<byte> at) =>
        at.Length >= 4 + 10 && at[4..].StartsWith(StoreRecordCodec.Magic)
        && at[4 + 9] is (byte)StoreRecordKind.ChannelUpsert or (byte)StoreRecordKind.ChannelDelete;

    /// <summary>Name of the lock file that makes a store directory exclusive to one process.</summary>
    public const string LockFileName = "LOCK";

    /// <summary>
    /// Takes the store directory for this process: an exclusive lock on <c>db_path/LOCK</c> (flock on Unix), held
    /// until disposal. Two processes appending to one FASTER log would each overwrite the other's records.
    /// </summary>
    private static FileStream AcquireLock(string root)
    {
        try
        {
            return new FileStream(Path.Combine(root, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new StoreInUseException(
                $"the store directory '{Path.GetFullPath(root)}' is in use by another process (is emit-hub already running with this db_path?). Stop it or choose another db_path / EMIT_HUB_DB_PATH.", ex);
        }
    }
}
