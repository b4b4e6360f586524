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
        var scan = ScanLog(log, warnings);
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
        public bool Damaged { get; set; }
    }

    /// <summary>Reads every record from the begin address to the recovered tail into channel states and indexes.</summary>
    private ScanResult ScanLog(FasterLog log, List<string> warnings)
    {
        var result = new ScanResult();
        var pending = new Dictionary<Guid, List<MessageIndexEntry>>();
        var trims = new Dictionary<Guid, long>();
        long order = 0;
        var pageSize = 1L << _options.PageSizeBits;
        var begin = log.BeginAddress;
        var tail = log.TailAddress;
        var expected = begin;
        long goodRecords = 0;
        string? damage = null;

        using (var iterator = log.Scan(begin, tail))
        {
            while (true)
            {
                bool more;
                byte[] entry;
                int length;
                long address, nextAddress;
                try
                {
                    more = iterator.GetNext(out entry, out length, out address, out nextAddress);
                }
                catch (Exception ex)
                {
                    damage = $"unreadable entry ({ex.Message})";
                    break;
                }
                if (!more)
                {
                    break;
                }
                if (address != expected && !IsPageSkip(expected, address, pageSize))
                {
                    // FASTER jumps over zeroed bytes to the next page; inside a page that means lost records.
                    damage = "zeroed bytes where a record should be";
                    break;
                }
                if (!StoreRecordCodec.TryRead(entry.AsSpan(0, length), out var record, out var error))
                {
                    expected = address;
                    damage = error;
                    break;
                }
                goodRecords++;
                expected = nextAddress;
                switch (record.Kind)
                {
                    case StoreRecordKind.ChannelUpsert:
                        if (result.Channels.TryGetValue(record.ChannelId, out var state))
                        {
                            if (state.Record.Epoch != record.Channel!.Epoch)
                            {
                                pending.Remove(record.ChannelId);
                                trims.Remove(record.ChannelId);
                            }
                            state.Record = record.Channel!;
                        }
                        else
                        {
                            result.Channels[record.ChannelId] = new ChannelState(record.Channel!, order++);
                        }
                        break;
                    case StoreRecordKind.ChannelDelete:
                        result.Channels.Remove(record.ChannelId);
                        pending.Remove(record.ChannelId);
                        trims.Remove(record.ChannelId);
                        break;
                    case StoreRecordKind.Message:
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
                }
            }
        }
        if (damage is null && expected < tail && !IsPageSkip(expected, tail, pageSize))
        {
            damage = "the log ends before its committed tail";
        }
        if (damage is not null)
        {
            result.Damaged = true;
            warnings.Add($"Dropped a torn or corrupt log tail at log address {expected}: {Math.Max(0, tail - expected)} bytes up to the committed tail {tail} ({damage}); {goodRecords} good records kept.");
        }

        foreach (var (channelId, state) in result.Channels)
        {
            state.FirstKept = trims.GetValueOrDefault(channelId);
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
        return result;
    }

    /// <summary>True when FASTER legitimately skipped from <paramref name="from"/> to the start of the next page
    /// because the next record did not fit in the rest of the page.</summary>
    private static bool IsPageSkip(long from, long to, long pageSize) =>
        to > from && (to & (pageSize - 1)) == 0 && to - from < pageSize;

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
