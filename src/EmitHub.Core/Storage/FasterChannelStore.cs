using System.Buffers;
using FASTER.core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmitHub.Core.Storage;

/// <summary>
/// <see cref="IChannelStore"/> on a FASTER <c>FasterLog</c> (SPEC §5). Every channel change and every message of a
/// persisting channel is one checksummed record (<see cref="StoreRecordCodec"/>) appended to the log; an in-memory
/// index per channel maps sequence to log address so history reads seek instead of scanning.
/// <para>
/// On-disk layout under <see cref="FasterChannelStoreOptions.DirectoryPath"/>: <c>log/hub.log.N</c> are the FASTER
/// segment files (N = segment number, each 2^SegmentSizeBits bytes of log address space) and
/// <c>log/log-commits/</c> holds FASTER's commit metadata (begin address, committed-until address).
/// </para>
/// <para>
/// Group commit: appends enqueue synchronously into the log's memory and signal one background committer, which
/// commits up to the tail; every append whose address the commit covered completes together. While a commit is in
/// flight new appends gather for the next one, so N concurrent appenders share one commit.
/// </para>
/// Call <see cref="RecoverAsync"/> once before anything else. All members are thread-safe.
/// </summary>
public sealed partial class FasterChannelStore : IChannelStore
{
    internal const string LogDirectoryName = "log";
    private const string LogFileName = "hub.log";
    private const int ReadBatch = 32;

    /// <summary>How often deferred channel records retry while FASTER's in-memory log is full.</summary>
    private static readonly TimeSpan DeferredRetryInterval = TimeSpan.FromMilliseconds(20);

    private readonly FasterChannelStoreOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, ChannelState> _channels = new();
    private readonly SemaphoreSlim _commitSignal = new(0);
    private readonly SemaphoreSlim _maintenance = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Queue<(byte[] Record, TaskCompletionSource<long> Address)> _deferred = new();
    private long _nextOrder;
    private int _pendingMessages;
    private int _commitRequested;
    private TaskCompletionSource<bool> _round = NewRound();
    private InflightCommit? _inflight;
    private Task? _committer;
    private IDevice? _device;
    private FasterLog? _log;
    private volatile Exception? _failure;
    private FileStream? _directoryLock;
    private volatile bool _ready;
    private int _disposed;

    /// <summary>Creates a store over <paramref name="options"/>.DirectoryPath; nothing is opened until
    /// <see cref="RecoverAsync"/>.</summary>
    public FasterChannelStore(FasterChannelStoreOptions options, ILogger<FasterChannelStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        MaxRecordLength = (1 << options.PageSizeBits) - 128;
    }

    /// <summary>Largest record (bytes, header included) that fits in one FASTER page.</summary>
    internal int MaxRecordLength { get; }

    /// <inheritdoc />
    public bool IsHealthy => _ready && _failure is null && _disposed == 0;

    /// <summary>Log bytes between the begin address and the tail (what the segment files cover), for
    /// diagnostics and tests.</summary>
    internal long LogBytes => _log is { } log ? log.TailAddress - log.BeginAddress : 0;

    internal long BeginAddress => _log?.BeginAddress ?? 0;

    /// <inheritdoc />
    /// <remarks>A record whose <see cref="ChannelRecord.Epoch"/> differs from the stored one starts a new sequence:
    /// the channel's stored messages are dropped (they belong to the old epoch).</remarks>
    public ValueTask SaveChannelAsync(ChannelRecord channel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channel);
        var log = EnsureWritable();
        var record = StoreRecordCodec.EncodeChannel(channel);
        long address;
        TaskCompletionSource<long>? deferred;
        lock (_lock)
        {
            address = EnqueueOrDefer(log, record, out deferred);
            if (_channels.TryGetValue(channel.Id, out var state))
            {
                if (state.Record.Epoch != channel.Epoch)
                {
                    // A new epoch restarts the sequence (SPEC §6): the old epoch's messages are history no more.
                    state.Messages.RemoveFirst(state.Messages.Count);
                    state.FirstKept = 0;
                }
                state.Record = channel;
            }
            else
            {
                _channels[channel.Id] = new ChannelState(channel, _nextOrder++);
            }
        }
        return deferred is null ? WaitForCommitAsync(address, cancellationToken) : WaitForDeferredCommitAsync(deferred, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask DeleteChannelAsync(Guid channelId, CancellationToken cancellationToken)
    {
        var log = EnsureWritable();
        var record = StoreRecordCodec.EncodeEmpty(StoreRecordKind.ChannelDelete, channelId);
        long address;
        TaskCompletionSource<long>? deferred;
        lock (_lock)
        {
            address = EnqueueOrDefer(log, record, out deferred);
            _channels.Remove(channelId);
        }
        return deferred is null ? WaitForCommitAsync(address, cancellationToken) : WaitForDeferredCommitAsync(deferred, cancellationToken);
    }

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">The channel was never saved, or the sequence does not grow.</exception>
    /// <exception cref="ArgumentException">The record does not fit in one FASTER page (see
    /// <see cref="FasterChannelStoreOptions.PageSizeBits"/>).</exception>
    /// <exception cref="IOException">The store is not usable (a commit failed).</exception>
    public ValueTask AppendMessageAsync(StoredMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        var log = EnsureWritable();
        var length = StoreRecordCodec.GetMessageLength(message.EnvelopeJson.Length);
        if (length > MaxRecordLength)
        {
            throw new ArgumentException($"A stored message may hold at most {MaxRecordLength - StoreRecordCodec.GetMessageLength(0)} bytes of envelope; this one has {message.EnvelopeJson.Length}.", nameof(message));
        }
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        long address;
        try
        {
            StoreRecordCodec.WriteMessage(buffer, message);
            lock (_lock)
            {
                if (!_channels.TryGetValue(message.ChannelId, out var state))
                {
                    throw new InvalidOperationException($"Channel {message.ChannelId} is not stored; save it before appending messages.");
                }
                if (message.Sequence <= state.LastSequence)
                {
                    throw new InvalidOperationException($"Sequence {message.Sequence} of channel {message.ChannelId} does not follow {state.LastSequence}.");
                }
                var pending = Volatile.Read(ref _pendingMessages);
                if (pending >= _options.MaxPendingMessages)
                {
                    throw new StoreBackpressureException(
                        $"{pending} stored messages are waiting for their commit, the most [persistence] max_pending_messages allows ({_options.MaxPendingMessages}): the disk is not keeping up. Nothing was stored; retry in a moment.");
                }
                address = TryEnqueueOrThrow(log, buffer.AsSpan(0, length));
                Interlocked.Increment(ref _pendingMessages);
                state.Messages.Add(new MessageIndexEntry
                {
                    Sequence = message.Sequence,
                    Address = address,
                    TimestampUtcTicks = message.Timestamp.UtcTicks,
                    Length = length,
                });
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return WaitForMessageCommitAsync(address, cancellationToken);
    }

    /// <summary>Messages appended whose commit has not completed yet (bounded by
    /// <see cref="FasterChannelStoreOptions.MaxPendingMessages"/>).</summary>
    internal int PendingMessages => Volatile.Read(ref _pendingMessages);

    private async ValueTask WaitForMessageCommitAsync(long address, CancellationToken cancellationToken)
    {
        try
        {
            await WaitForCommitAsync(address, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _pendingMessages);
        }
    }

    /// <summary>
    /// A channel record (create, patch, status change, delete) is never refused for a full log: the channel's state
    /// has changed already, and such records are few and small. When the log is full, or records wait before it, the
    /// record joins <see cref="_deferred"/> (caller holds <see cref="_lock"/>) and a pump enqueues it as soon as FASTER
    /// has room; its task completes at the commit that covers it. Returns the address, or -1 when deferred.
    /// </summary>
    private long EnqueueOrDefer(FasterLog log, byte[] record, out TaskCompletionSource<long>? deferred)
    {
        if (_deferred.Count == 0 && log.TryEnqueue(record, out var address))
        {
            deferred = null;
            return address;
        }
        deferred = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        _deferred.Enqueue((record, deferred));
        if (_deferred.Count == 1)
        {
            _ = Task.Run(PumpDeferredAsync);
        }
        return -1;
    }

    /// <summary>Moves <see cref="_deferred"/> into the log as FASTER frees memory (the device catches up).</summary>
    private async Task PumpDeferredAsync()
    {
        while (true)
        {
            lock (_lock)
            {
                while (_deferred.TryPeek(out var head))
                {
                    if (_failure is { } failure || _disposed != 0 || _log is not { } log)
                    {
                        _deferred.Dequeue().Address.TrySetException(new IOException("The store closed or failed before the record could be appended.", _failure));
                        continue;
                    }
                    if (!log.TryEnqueue(head.Record, out var address))
                    {
                        break;
                    }
                    _deferred.Dequeue();
                    head.Address.TrySetResult(address);
                }
                if (_deferred.Count == 0)
                {
                    return;
                }
            }
            RequestCommit();
            await Task.Delay(DeferredRetryInterval).ConfigureAwait(false);
        }
    }

    private async ValueTask WaitForDeferredCommitAsync(TaskCompletionSource<long> deferred, CancellationToken cancellationToken)
    {
        var address = await deferred.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        await WaitForCommitAsync(address, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Enqueues without waiting. <c>FasterLog.Enqueue</c> spins while the in-memory log is full of pages the device
    /// has not written yet; called under <see cref="_lock"/> (and the caller's channel lock) that spin would stall
    /// every channel behind one slow disk, so a full log is refused at once instead.
    /// </summary>
    /// <exception cref="StoreBackpressureException">The in-memory log is full.</exception>
    private long TryEnqueueOrThrow(FasterLog log, ReadOnlySpan<byte> record)
    {
        // Deferred channel records go first: the log keeps every change in the order it was made.
        if (_deferred.Count == 0 && log.TryEnqueue(record, out var address))
        {
            return address;
        }
        var unwritten = log.TailAddress - log.FlushedUntilAddress;
        throw new StoreBackpressureException(
            $"The store's in-memory log is full: {unwritten} bytes wait to be written to disk (the log holds {1L << _options.MemorySizeBits} bytes in memory), so the disk is not keeping up. Nothing was stored; retry in a moment.");
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<StoredMessage>> ReadMessagesAsync(Guid channelId, long afterSequence, int limit, CancellationToken cancellationToken)
    {
        var log = EnsureReady();
        if (limit <= 0)
        {
            return [];
        }
        var result = new List<StoredMessage>(Math.Min(limit, 256));
        var next = afterSequence;
        // A compaction may truncate the head between our index lookup and the read; the record then lives at a
        // new address, so look it up again (bounded: each compaction needs a full relocation pass).
        for (var attempt = 0; attempt < 8 && result.Count < limit; attempt++)
        {
            var wanted = Snapshot(channelId, next, limit - result.Count, log.CommittedUntilAddress);
            if (wanted.Count == 0)
            {
                break;
            }
            var moved = false;
            // Reads go to the device; issue a batch at once so their latencies overlap.
            for (var start = 0; start < wanted.Count && !moved; start += ReadBatch)
            {
                var reads = new ValueTask<(byte[], int)>[Math.Min(ReadBatch, wanted.Count - start)];
                for (var i = 0; i < reads.Length; i++)
                {
                    reads[i] = log.ReadAsync(wanted[start + i].Address, wanted[start + i].Length, cancellationToken);
                }
                for (var i = 0; i < reads.Length; i++)
                {
                    byte[]? bytes;
                    int length;
                    try
                    {
                        (bytes, length) = await reads[i].ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        // Its segment was truncated under the read; the index has the new address.
                        moved = true;
                        continue;
                    }
                    if (moved)
                    {
                        continue;
                    }
                    var entry = wanted[start + i];
                    if (bytes is null || !StoreRecordCodec.TryRead(bytes.AsSpan(0, length), out var record, out _)
                        || record.Kind != StoreRecordKind.Message || record.ChannelId != channelId || record.Sequence != entry.Sequence)
                    {
                        moved = true;
                        continue;
                    }
                    result.Add(new StoredMessage(channelId, record.Sequence, new DateTimeOffset(record.TimestampUtcTicks, TimeSpan.Zero),
                        new ReadOnlyMemory<byte>(bytes, record.PayloadOffset, record.PayloadLength)));
                    next = record.Sequence;
                }
            }
            if (!moved)
            {
                break;
            }
        }
        return result;
    }

    private List<MessageIndexEntry> Snapshot(Guid channelId, long afterSequence, int limit, long committedUntil)
    {
        lock (_lock)
        {
            var list = new List<MessageIndexEntry>();
            if (!_channels.TryGetValue(channelId, out var state))
            {
                return list;
            }
            var index = state.Messages;
            for (var i = index.FindFirstAfter(afterSequence); i < index.Count && list.Count < limit; i++)
            {
                var entry = index[i];
                // Only committed records are history; ReadAsync refuses the rest anyway.
                if (entry.Address >= committedUntil)
                {
                    break;
                }
                list.Add(entry);
            }
            return list;
        }
    }

    /// <inheritdoc />
    public long GetFirstStoredSequence(Guid channelId)
    {
        lock (_lock)
        {
            return _channels.TryGetValue(channelId, out var state) ? state.Messages.FirstSequence : 0;
        }
    }

    /// <inheritdoc />
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        EnsureReady();
        await CommitRoundAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Flushes, stops the committer and disposes the FASTER log and device. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        if (_log is { } log)
        {
            if (_failure is null)
            {
                try
                {
                    await log.CommitAsync().ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    LogCommitFailed(ex);
                }
            }
            await _stopping.CancelAsync().ConfigureAwait(false);
            if (_committer is { } committer)
            {
                await committer.ConfigureAwait(false);
            }
            Volatile.Read(ref _round).TrySetResult(false);
        }
        CloseLog();
        _stopping.Dispose();
        _directoryLock?.Dispose();
        _directoryLock = null;
    }

    private void CloseLog()
    {
        _log?.Dispose();
        _device?.Dispose();
        _log = null;
        _device = null;
    }

    private FasterLog EnsureReady()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (!_ready || _log is not { } log)
        {
            throw new InvalidOperationException("The store has not been recovered yet; call RecoverAsync first.");
        }
        return log;
    }

    private FasterLog EnsureWritable()
    {
        var log = EnsureReady();
        if (_failure is { } failure)
        {
            throw new IOException("The store is unavailable after a failed commit.", failure);
        }
        return log;
    }

    private static TaskCompletionSource<bool> NewRound() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when a commit covering the record at <paramref name="address"/> finished.</summary>
    private ValueTask WaitForCommitAsync(long address, CancellationToken cancellationToken)
    {
        RequestCommit();
        return WaitUntilCommittedAsync(address + 1, cancellationToken);
    }

    private async ValueTask WaitUntilCommittedAsync(long untilAddress, CancellationToken cancellationToken)
    {
        var log = _log!;
        while (true)
        {
            var round = Volatile.Read(ref _round);
            if (_failure is { } failure)
            {
                throw new IOException("The store could not commit the record.", failure);
            }
            if (log.CommittedUntilAddress >= untilAddress)
            {
                return;
            }
            ObjectDisposedException.ThrowIf(_disposed != 0 && round.Task.IsCompleted, this);
            // The commit in flight may already cover the record (it was enqueued before that commit read the tail);
            // otherwise the next round must run, and asking for it after reading it guarantees it starts later.
            if (Volatile.Read(ref _inflight) is { } inflight && inflight.Tail >= untilAddress && !inflight.Round.Task.IsCompleted)
            {
                await inflight.Round.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }
            RequestCommit();
            await round.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for a commit that started after this call (persists truncation and everything enqueued).</summary>
    private async ValueTask CommitRoundAsync(CancellationToken cancellationToken)
    {
        var round = Volatile.Read(ref _round);
        RequestCommit();
        await round.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (_failure is { } failure)
        {
            throw new IOException("The store could not commit.", failure);
        }
    }

    private void RequestCommit()
    {
        if (Interlocked.Exchange(ref _commitRequested, 1) == 0)
        {
            _commitSignal.Release();
        }
    }

    private async Task CommitLoopAsync()
    {
        var log = _log!;
        var stopping = _stopping.Token;
        while (true)
        {
            try
            {
                await _commitSignal.WaitAsync(stopping).ConfigureAwait(false);
                if (_options.CommitDelay > TimeSpan.Zero)
                {
                    await Task.Delay(_options.CommitDelay, stopping).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            Volatile.Write(ref _commitRequested, 0);
            // Swap before committing: a waiter that reads the new round is served by the next commit, which its
            // own RequestCommit has already asked for.
            var round = Interlocked.Exchange(ref _round, NewRound());
            // Read before committing: the commit covers at least this tail.
            Volatile.Write(ref _inflight, new InflightCommit(round, log.TailAddress));
            try
            {
                // A failed device write can leave FASTER's commit pending forever; past the timeout it counts as failed.
                await log.CommitAsync(CancellationToken.None).AsTask().WaitAsync(_options.CommitTimeout).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                _failure = ex is TimeoutException ? new IOException($"A commit did not complete within {_options.CommitTimeout}.", ex) : ex;
                LogCommitFailed(ex);
                var failed = NewRound();
                failed.SetResult(false);
                Interlocked.Exchange(ref _round, failed).TrySetResult(false);
                round.TrySetResult(false);
                return;
            }
            round.TrySetResult(true);
        }
    }

    /// <summary>The commit round being committed and the tail it covers at least.</summary>
    private sealed record InflightCommit(TaskCompletionSource<bool> Round, long Tail);

    /// <summary>One channel's state in memory: its last saved record and its message index.</summary>
    private sealed class ChannelState(ChannelRecord record, long order)
    {
        public ChannelRecord Record { get; set; } = record;
        public long Order { get; } = order;
        public MessageIndex Messages { get; } = new();
        /// <summary>Retention watermark: the first sequence still kept (0 = never trimmed).</summary>
        public long FirstKept { get; set; }
        public long LastSequence => Math.Max(Messages.LastSequence, FirstKept - 1);
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Error, Message = "Store commit failed; the store is unavailable until restart")]
    private partial void LogCommitFailed(Exception exception);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "Store recovery: {Warning}")]
    private partial void LogRecoveryWarning(string warning);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Information, Message = "Store recovered from {Path}: {Channels} channels, {Messages} messages, log addresses {Begin}..{Tail}")]
    private partial void LogRecovered(string path, int channels, long messages, long begin, long tail);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Information, Message = "Store compacted: relocated {Records} records, log begin address {OldBegin} -> {NewBegin}")]
    private partial void LogCompacted(int records, long oldBegin, long newBegin);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Information, Message = "Store backup written to {Directory} ({Channels} channels, {Messages} messages)")]
    private partial void LogBackupWritten(string directory, int channels, int messages);
}
