using System.Globalization;
using FASTER.core;

namespace EmitHub.Core.Storage;

public sealed partial class FasterChannelStore
{
    /// <inheritdoc />
    /// <remarks>
    /// Logically at once: trimmed messages leave the index and a Trim record (the channel's first kept sequence)
    /// makes that durable. Physically: channels interleave in the log, so the head can only be truncated after the
    /// live records in it are copied forward; when live records are below
    /// <see cref="FasterChannelStoreOptions.CompactionLiveFraction"/> of the log a compaction does that (deleted
    /// channels' records count as dead too).
    /// </remarks>
    public async ValueTask ApplyRetentionAsync(DateTimeOffset now, int retentionDays, int maxMessagesPerChannel, CancellationToken cancellationToken)
    {
        var log = EnsureWritable();
        var cutoff = now.AddDays(-retentionDays).UtcTicks;
        long lastAddress = -1;
        lock (_lock)
        {
            foreach (var state in _channels.Values)
            {
                var index = state.Messages;
                var drop = 0;
                while (drop < index.Count && index[drop].TimestampUtcTicks < cutoff)
                {
                    drop++;
                }
                if (maxMessagesPerChannel >= 0 && index.Count - drop > maxMessagesPerChannel)
                {
                    drop = index.Count - maxMessagesPerChannel;
                }
                if (drop == 0)
                {
                    continue;
                }
                var firstKept = drop < index.Count ? index[drop].Sequence : index[index.Count - 1].Sequence + 1;
                // Enqueue first: when the log is full the index stays as it is and the next run retries.
                lastAddress = TryEnqueueOrThrow(log, StoreRecordCodec.EncodeTrim(state.Record.Id, firstKept));
                index.RemoveFirst(drop);
                state.FirstKept = firstKept;
            }
        }
        if (lastAddress >= 0)
        {
            await WaitForCommitAsync(lastAddress, cancellationToken).ConfigureAwait(false);
        }
        await CompactIfWorthwhileAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Tests: end compactions after the copies are committed, as a crash before the truncation would.</summary>
    internal bool StopCompactionBeforeTruncateForTesting { get; set; }

    /// <summary>Compacts when the log is big enough and mostly dead. True when it compacted.</summary>
    internal async ValueTask<bool> CompactIfWorthwhileAsync(CancellationToken cancellationToken)
    {
        var log = EnsureWritable();
        var logBytes = log.TailAddress - log.BeginAddress;
        if (logBytes < _options.EffectiveCompactionMinBytes || LiveBytes() >= logBytes * _options.CompactionLiveFraction)
        {
            return false;
        }
        await CompactAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Copies every live record to the tail and truncates the head before the copies.</summary>
    internal async ValueTask CompactAsync(CancellationToken cancellationToken)
    {
        EnsureWritable();
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

    private long LiveBytes()
    {
        lock (_lock)
        {
            long live = 0;
            foreach (var state in _channels.Values)
            {
                // Records carry FASTER's 4-byte length header and 4-byte alignment; a channel record is ~200 bytes.
                live += state.Messages.LiveBytes + state.Messages.Count * 8L + 256;
            }
            return live;
        }
    }

    /// <summary>
    /// The compaction itself (caller holds <see cref="_maintenance"/>). A Marker record goes first; its address is
    /// the new begin address. Every live channel's current record and retention watermark follow, then each live
    /// message older than the marker is read and re-enqueued unchanged (same bytes, same checksum). Once the copies
    /// are committed the index points at them and the head is truncated to the marker. A crash at any point leaves
    /// a log that recovers to the same state: copies are deduplicated by sequence, and channel records copied under
    /// the lock are older than any change made after them.
    /// </summary>
    private async ValueTask CompactCoreAsync(CancellationToken cancellationToken)
    {
        var log = _log!;
        var oldBegin = log.BeginAddress;
        long marker;
        var toMove = new List<(Guid Channel, long Sequence, long Address, int Length)>();
        lock (_lock)
        {
            marker = TryEnqueueOrThrow(log, StoreRecordCodec.EncodeEmpty(StoreRecordKind.Marker, Guid.Empty));
            foreach (var state in _channels.Values.OrderBy(s => s.Order))
            {
                TryEnqueueOrThrow(log, StoreRecordCodec.EncodeChannel(state.Record));
                if (state.FirstKept > 0)
                {
                    TryEnqueueOrThrow(log, StoreRecordCodec.EncodeTrim(state.Record.Id, state.FirstKept));
                }
                var index = state.Messages;
                for (var i = 0; i < index.Count; i++)
                {
                    if (index[i].Address < marker)
                    {
                        toMove.Add((state.Record.Id, index[i].Sequence, index[i].Address, index[i].Length));
                    }
                }
            }
        }
        // ReadAsync serves committed records only.
        await CommitRoundAsync(cancellationToken).ConfigureAwait(false);

        var moved = new List<(Guid Channel, long Sequence, long OldAddress, long NewAddress)>(toMove.Count);
        const int batch = 32;
        for (var start = 0; start < toMove.Count; start += batch)
        {
            var reads = new ValueTask<(byte[], int)>[Math.Min(batch, toMove.Count - start)];
            for (var i = 0; i < reads.Length; i++)
            {
                var item = toMove[start + i];
                reads[i] = log.ReadAsync(item.Address, item.Length, cancellationToken);
            }
            for (var i = 0; i < reads.Length; i++)
            {
                var item = toMove[start + i];
                var (bytes, length) = await reads[i].ConfigureAwait(false);
                if (bytes is null || !StoreRecordCodec.TryRead(bytes.AsSpan(0, length), out var record, out _) || record.Sequence != item.Sequence)
                {
                    continue;
                }
                // Retention or a delete may have dropped it meanwhile: then it stays dead.
                var newAddress = await EnqueueCopyAsync(log, bytes, length, item, cancellationToken).ConfigureAwait(false);
                if (newAddress >= 0)
                {
                    moved.Add((item.Channel, item.Sequence, item.Address, newAddress));
                }
            }
        }
        await CommitRoundAsync(cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            foreach (var (channel, sequence, oldAddress, newAddress) in moved)
            {
                if (TryFind(channel, sequence, oldAddress, out var state))
                {
                    var index = state.Messages;
                    index[index.FindFirstAfter(sequence - 1)].Address = newAddress;
                }
            }
        }
        if (StopCompactionBeforeTruncateForTesting)
        {
            return;
        }
        log.TruncateUntil(marker);
        await CommitRoundAsync(cancellationToken).ConfigureAwait(false);
        LogCompacted(moved.Count, oldBegin, log.BeginAddress);
    }

    /// <summary>
    /// Re-enqueues one live message during a compaction. A copy is not urgent, so while FASTER's in-memory log is
    /// full it waits outside <see cref="_lock"/> (appends of every channel keep being served or refused meanwhile)
    /// and retries. Returns the new address, or -1 when the message died meanwhile.
    /// </summary>
    private async ValueTask<long> EnqueueCopyAsync(FasterLog log, byte[] bytes, int length,
        (Guid Channel, long Sequence, long Address, int Length) item, CancellationToken cancellationToken)
    {
        while (true)
        {
            lock (_lock)
            {
                if (!TryFind(item.Channel, item.Sequence, item.Address, out _))
                {
                    return -1;
                }
                if (_deferred.Count == 0 && log.TryEnqueue(bytes.AsSpan(0, length), out var address))
                {
                    return address;
                }
            }
            if (_failure is { } failure)
            {
                throw new IOException("The store failed during a compaction.", failure);
            }
            RequestCommit();
            await Task.Delay(DeferredRetryInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    private bool TryFind(Guid channelId, long sequence, long address, out ChannelState state)
    {
        if (_channels.TryGetValue(channelId, out state!))
        {
            var index = state.Messages;
            var i = index.FindFirstAfter(sequence - 1);
            return i < index.Count && index[i].Sequence == sequence && index[i].Address == address;
        }
        return false;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Writes a fresh, compacted log (the same layout as <c>db_path</c>: <c>log/</c> with segments and commit
    /// metadata) holding every channel and every committed, retained message as of the call, into
    /// <c>&lt;directory&gt;.partial</c>, then renames it to <paramref name="directory"/>, so a directory that exists
    /// is always complete. Start a server with <c>db_path</c> = <paramref name="directory"/> to restore it.
    /// </remarks>
    /// <exception cref="IOException"><paramref name="directory"/> exists and is not empty, or writing failed.</exception>
    public async ValueTask BackupAsync(string directory, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var log = EnsureWritable();
        var target = Path.GetFullPath(directory);
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
        {
            throw new IOException($"The backup directory '{target}' is not empty.");
        }
        await _maintenance.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await CommitRoundAsync(cancellationToken).ConfigureAwait(false);
            var committed = log.CommittedUntilAddress;
            var channels = new List<(ChannelRecord Record, long FirstKept, MessageIndexEntry[] Messages)>();
            lock (_lock)
            {
                foreach (var state in _channels.Values.OrderBy(s => s.Order))
                {
                    var index = state.Messages;
                    var entries = new List<MessageIndexEntry>(index.Count);
                    for (var i = 0; i < index.Count && index[i].Address < committed; i++)
                    {
                        entries.Add(index[i]);
                    }
                    channels.Add((state.Record, state.FirstKept, entries.ToArray()));
                }
            }

            var partial = target + ".partial";
            if (Directory.Exists(partial))
            {
                Directory.Delete(partial, recursive: true);
            }
            var messages = 0;
            var (device, copy) = OpenLog(Path.Combine(partial, LogDirectoryName), recover: false);
            try
            {
                foreach (var (record, firstKept, entries) in channels)
                {
                    copy.Enqueue(StoreRecordCodec.EncodeChannel(record));
                    if (firstKept > 0)
                    {
                        copy.Enqueue(StoreRecordCodec.EncodeTrim(record.Id, firstKept));
                    }
                    foreach (var entry in entries)
                    {
                        var (bytes, length) = await log.ReadAsync(entry.Address, entry.Length, cancellationToken).ConfigureAwait(false);
                        if (bytes is null)
                        {
                            throw new IOException($"Log address {entry.Address} could not be read for the backup.");
                        }
                        copy.Enqueue(bytes.AsSpan(0, length));
                        messages++;
                    }
                }
                await copy.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                copy.Dispose();
                device.Dispose();
            }
            if (Directory.Exists(target))
            {
                Directory.Delete(target);
            }
            Directory.Move(partial, target);
            LogBackupWritten(target, channels.Count, messages);
        }
        finally
        {
            _maintenance.Release();
        }
    }

    /// <summary>The directory a scheduled backup taken at <paramref name="now"/> goes to:
    /// <c>&lt;dbPath&gt;/backups/&lt;yyyyMMddTHHmmssZ&gt;</c> (names sort by time).</summary>
    public static string GetBackupDirectory(string dbPath, DateTimeOffset now) =>
        Path.Combine(dbPath, "backups", now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture));

    /// <summary>
    /// Deletes all but the newest <paramref name="keep"/> backups in <paramref name="backupsDirectory"/> (by name,
    /// see <see cref="GetBackupDirectory"/>), and any unfinished <c>*.partial</c> one. Returns the deleted paths.
    /// </summary>
    public static IReadOnlyList<string> PruneBackups(string backupsDirectory, int keep)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(keep);
        var deleted = new List<string>();
        if (!Directory.Exists(backupsDirectory))
        {
            return deleted;
        }
        var all = Directory.GetDirectories(backupsDirectory).Order(StringComparer.Ordinal).ToList();
        var complete = all.Where(d => !d.EndsWith(".partial", StringComparison.Ordinal)).ToList();
        var doomed = all.Where(d => d.EndsWith(".partial", StringComparison.Ordinal)).Concat(complete.Take(Math.Max(0, complete.Count - keep)));
        foreach (var path in doomed)
        {
            Directory.Delete(path, recursive: true);
            deleted.Add(path);
        }
        return deleted;
    }
}
