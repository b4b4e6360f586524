using EmitHub.Core.Channels;
using EmitHub.Core.Cluster;
using EmitHub.Core.Storage;

namespace EmitHub.Tests.Cluster;

/// <summary>
/// A store of record in process memory, for registry tests of the cluster paths without nats-server: one node's
/// view of what <c>JetStreamClusterStore</c> does. Channel changes get increasing revisions
/// and come back through the change feed at once (synchronously); appended messages get the channel's next
/// sequence, are kept as the registry built them (no <c>sequence</c>) in <see cref="Appended"/>, and reach the sink
/// with <c>"sequence":N</c> added as the last member, as JetStream's reader adds it.
/// </summary>
internal sealed class InMemoryClusterStore : IClusterStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, ulong> _revisions = new();
    private readonly Dictionary<Guid, List<StoredMessage>> _messages = new();
    private readonly HashSet<Guid> _followed = new();
    private readonly Dictionary<Guid, int> _leases = new();
    private long _followsStarted;
    private long _followsStopped;
    private IClusterChangeSink? _sink;
    private ulong _lastRevision;

    /// <summary>Every envelope the registry appended, as it built it (no <c>sequence</c> member).</summary>
    public System.Collections.Concurrent.ConcurrentQueue<byte[]> Appended { get; } = new();

    public string NodeName => "test-node";
    public bool IsConnected => true;
    public bool IsHealthy => true;
    public IReadOnlyDictionary<Guid, ulong> RecoveredRevisions { get; } = new Dictionary<Guid, ulong>();

    public ValueTask<StoreRecovery> RecoverAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult(new StoreRecovery([], new Dictionary<Guid, long>(), []));

    public void StartChangeFeed(IClusterChangeSink sink) => _sink = sink;

    public ValueTask<ulong> PutChannelAsync(ChannelRecord record, ulong expectedRevision, CancellationToken cancellationToken)
    {
        ulong revision;
        lock (_gate)
        {
            if (_revisions.GetValueOrDefault(record.Id) != expectedRevision)
            {
                throw new ClusterConflictException("changed by another node");
            }
            revision = ++_lastRevision;
            _revisions[record.Id] = revision;
            _messages.TryAdd(record.Id, []);
        }
        _sink!.OnChannelChanged(record, revision);
        return ValueTask.FromResult(revision);
    }

    public ValueTask RemoveChannelAsync(Guid channelId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _revisions.Remove(channelId);
            _messages.Remove(channelId);
            _followed.Remove(channelId);
        }
        _sink!.OnChannelDeleted(channelId);
        return ValueTask.CompletedTask;
    }

    public ValueTask<ClusterAppend> AppendAsync(Guid channelId, ClusterEnvelopeFactory envelope, CancellationToken cancellationToken)
    {
        // One lock around numbering and delivery keeps the feed in sequence order, as the stream does.
        lock (_gate)
        {
            var messages = _messages[channelId];
            var timestamp = Rfc3339.Truncate(DateTimeOffset.UtcNow);
            var json = envelope(timestamp);
            Appended.Enqueue(json);
            var stored = new StoredMessage(channelId, messages.Count + 1, timestamp, WithSequence(json, messages.Count + 1));
            messages.Add(stored);
            if (_followed.Contains(channelId))
            {
                _sink!.OnMessage(channelId, stored.Sequence, stored.EnvelopeJson.Span);
            }
            return ValueTask.FromResult(new ClusterAppend(stored.Sequence, timestamp));
        }
    }

    /// <summary>Leases held per channel now (a channel is followed while it has one: no linger here, delay 0).</summary>
    public int LeasesOn(Guid channelId)
    {
        lock (_gate)
        {
            return _leases.GetValueOrDefault(channelId);
        }
    }

    public int FollowedChannels
    {
        get
        {
            lock (_gate)
            {
                return _followed.Count;
            }
        }
    }

    public long FollowsStarted => Interlocked.Read(ref _followsStarted);

    public long FollowsStopped => Interlocked.Read(ref _followsStopped);

    public IClusterFollowLease Follow(Guid channelId, int recent)
    {
        lock (_gate)
        {
            _leases[channelId] = _leases.GetValueOrDefault(channelId) + 1;
            if (_followed.Add(channelId))
            {
                Interlocked.Increment(ref _followsStarted);
                var messages = _messages.GetValueOrDefault(channelId) ?? [];
                var from = Math.Max(0, messages.Count - recent);
                _sink!.OnFollowStarted(channelId, from);
                foreach (var message in messages.Skip(from))
                {
                    _sink.OnMessage(channelId, message.Sequence, message.EnvelopeJson.Span);
                }
            }
        }
        return new Lease(this, channelId);
    }

    private void Release(Guid channelId)
    {
        lock (_gate)
        {
            var left = _leases[channelId] - 1;
            if (left > 0)
            {
                _leases[channelId] = left;
                return;
            }
            _leases.Remove(channelId);
            if (_followed.Remove(channelId))
            {
                Interlocked.Increment(ref _followsStopped);
                _sink!.OnFollowStopped(channelId);
            }
        }
    }

    private sealed class Lease(InMemoryClusterStore store, Guid channelId) : IClusterFollowLease
    {
        private int _released;

        public Task Ready => Task.CompletedTask;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                store.Release(channelId);
            }
        }
    }

    public ValueTask<long> GetFirstSequenceAsync(Guid channelId, CancellationToken cancellationToken) =>
        ValueTask.FromResult(GetFirstStoredSequence(channelId));

    public long GetFirstStoredSequence(Guid channelId)
    {
        lock (_gate)
        {
            return _messages.GetValueOrDefault(channelId) is { Count: > 0 } messages ? messages[0].Sequence : 0;
        }
    }

    public ValueTask<IReadOnlyList<StoredMessage>> ReadMessagesAsync(Guid channelId, long afterSequence, int limit, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            IReadOnlyList<StoredMessage> page = (_messages.GetValueOrDefault(channelId) ?? [])
                .Where(m => m.Sequence > afterSequence).Take(limit).ToList();
            return ValueTask.FromResult(page);
        }
    }

    public ValueTask SaveChannelAsync(ChannelRecord channel, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("a cluster node never writes channels to the embedded store");

    public ValueTask DeleteChannelAsync(Guid channelId, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("a cluster node never writes channels to the embedded store");

    public ValueTask AppendMessageAsync(StoredMessage message, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("a cluster node appends through AppendAsync");

    public ValueTask ApplyRetentionAsync(DateTimeOffset now, int retentionDays, int maxMessagesPerChannel, CancellationToken cancellationToken) =>
        ValueTask.CompletedTask;

    public ValueTask BackupAsync(string directory, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>The stored envelope with <c>"sequence":N</c> as its last member (JetStreamClusterStore.ToEntry).</summary>
    private static byte[] WithSequence(byte[] json, long sequence) =>
        [.. json.AsSpan(0, json.Length - 1), .. System.Text.Encoding.ASCII.GetBytes($",\"sequence\":{sequence}}}")];
}
