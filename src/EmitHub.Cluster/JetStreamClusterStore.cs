using System.Collections.Concurrent;
using EmitHub.Core.Channels;
using EmitHub.Core.Cluster;
using EmitHub.Core.Configuration;
using EmitHub.Core.Storage;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using StoredMessage = EmitHub.Core.Storage.StoredMessage;
using NatsStoredMessage = NATS.Client.JetStream.Models.StoredMessage;
using NATS.Client.KeyValueStore;

namespace EmitHub.Cluster;

/// <summary>
/// The cluster's store of record on NATS JetStream (issue 11):
/// <list type="bullet">
/// <item>channels in the key-value bucket <see cref="BucketName"/> (key = channel id, value = the full state as JSON,
/// history 1); every node watches it, so a change made on one node reaches all of them in revision order;</item>
/// <item>each channel's messages in its own stream <c>EMITHUB_CH_&lt;id&gt;</c> (subject <c>emithub.ch.&lt;id&gt;</c>),
/// the envelope JSON as payload without its <c>sequence</c>. The channel sequence is the stream sequence: JetStream
/// assigns it when it stores the message, one after the other, so it is unique, gap-free and the same for every
/// reader however many nodes publish at once — no optimistic-concurrency retry, which matters because
/// <c>Nats-Expected-Last-Subject-Sequence</c> is not serializable on replicated streams (nats-server issue 4320,
/// 2.9.x). Retention maps to stream limits: <c>message_retention_days</c> → MaxAge,
/// <c>max_messages_per_channel</c> → MaxMsgs.</item>
/// </list>
/// </summary>
public sealed partial class JetStreamClusterStore : IClusterStore
{
    /// <summary>Name prefix of a channel's stream: <c>EMITHUB_CH_&lt;id as 32 hex digits&gt;</c>.</summary>
    public const string StreamPrefix = "EMITHUB_CH_";

    /// <summary>Key-value bucket holding every channel's state.</summary>
    public const string BucketName = "emithub-channels";

    /// <summary>Subject prefix of a channel's messages: <c>emithub.ch.&lt;id as 32 hex digits&gt;</c>.</summary>
    public const string SubjectPrefix = "emithub.ch.";

    /// <summary>JetStream error code for "stream not found".</summary>
    private const int StreamNotFoundErrCode = 10059;

    private static readonly NatsRawSerializer<byte[]> s_raw = NatsRawSerializer<byte[]>.Default;

    private readonly ClusterOptions _cluster;
    private readonly PersistenceOptions _persistence;
    private readonly TimeProvider _time;
    private readonly TimeSpan _unfollowDelay;
    private readonly ILogger _logger;
    private readonly NatsConnection _connection;
    private readonly NatsJSContext _js;
    private readonly NatsKVContext _kvContext;
    private readonly CancellationTokenSource _closing = new();
    private readonly ConcurrentDictionary<Guid, INatsJSStream> _streams = new();
    private readonly ConcurrentDictionary<Guid, ChannelFollower> _followers = new();
    private readonly ConcurrentDictionary<Guid, long> _firstSequences = new();
    private readonly Dictionary<Guid, ulong> _recoveredRevisions = [];
    private INatsKVStore? _kv;
    private IClusterChangeSink? _sink;
    private ulong _recoveredBucketRevision;
    private Task _feed = Task.CompletedTask;

    /// <summary>Creates the store; nothing connects until <see cref="RecoverAsync"/>.</summary>
    /// <param name="cluster">The <c>[cluster]</c> section (URLs, credentials, TLS, replicas, unfollow delay).</param>
    /// <param name="persistence">Retention: <c>message_retention_days</c>, <c>max_messages_per_channel</c>.</param>
    /// <param name="nodeName">This node's name.</param>
    /// <param name="time">Clock of message timestamps.</param>
    /// <param name="loggerFactory">Logs of this store and of the NATS client.</param>
    public JetStreamClusterStore(ClusterOptions cluster, PersistenceOptions persistence, string nodeName, TimeProvider time, ILoggerFactory loggerFactory)
    {
        _cluster = cluster;
        _persistence = persistence;
        _time = time;
        _unfollowDelay = TimeSpan.FromSeconds(cluster.UnfollowDelay);
        NodeName = nodeName;
        _logger = loggerFactory.CreateLogger<JetStreamClusterStore>();
        _connection = new NatsConnection(NatsConnectionOptions.Create(cluster, nodeName, loggerFactory));
        _connection.ConnectionDisconnected += OnDisconnected;
        _connection.ConnectionOpened += OnOpened;
        _js = new NatsJSContext(_connection);
        _kvContext = new NatsKVContext(_js);
    }

    /// <inheritdoc />
    public string NodeName { get; }

    /// <inheritdoc />
    public bool IsConnected => _connection.ConnectionState == NatsConnectionState.Open;

    /// <inheritdoc />
    public bool IsHealthy => IsConnected && _kv is not null;

    /// <inheritdoc />
    public IReadOnlyDictionary<Guid, ulong> RecoveredRevisions => _recoveredRevisions;

    /// <summary>
    /// Connects, creates or updates the bucket (replicas from <c>[cluster]</c>) and reads every channel with its
    /// revision and last sequence. Throws
    /// <see cref="ClusterUnavailableException"/> with an operator sentence when NATS cannot be used.
    /// </summary>
    public async ValueTask<StoreRecovery> RecoverAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _connection.ConnectAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException)
        {
            throw new ClusterUnavailableException(
                $"cannot connect to NATS at {_cluster.NatsUrl}: {ex.Message}. Start nats-server with JetStream (-js) or fix [cluster] nats_url / EMIT_HUB_CLUSTER_NATS_URL.", ex);
        }
        // A NATS cluster that just started elects its JetStream meta leader first; until then it answers
        // "temporarily unavailable". Wait for it rather than fail a node started together with NATS.
        var deadline = _time.GetUtcNow() + JetStreamStartupWait;
        while (true)
        {
            try
            {
                return await SetUpAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ClusterUnavailableException) when (_time.GetUtcNow() < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>How long startup waits for JetStream to become available: 30 s.</summary>
    private static readonly TimeSpan JetStreamStartupWait = TimeSpan.FromSeconds(30);

    private async ValueTask<StoreRecovery> SetUpAsync(CancellationToken cancellationToken)
    {
        try
        {
            _kv = await _kvContext.CreateOrUpdateStoreAsync(new NatsKVConfig(BucketName)
            {
                History = 1,
                Storage = NatsKVStorageType.File,
                NumberOfReplicas = _cluster.StreamReplicas,
                Description = "EmitHub channels: key = channel id, value = its state",
            }, cancellationToken).ConfigureAwait(false);
            var status = await _kv.GetStatusAsync(cancellationToken).ConfigureAwait(false);
            _recoveredBucketRevision = status.Info.State.LastSeq;

            var records = new List<ChannelRecord>();
            var lastSequences = new Dictionary<Guid, long>();
            var keys = new List<string>();
            try
            {
                // On an empty bucket the key listing only ends by timing out (seconds): skip it.
                if (status.Info.State.Messages > 0)
                {
                    await foreach (var key in _kv.GetKeysAsync(cancellationToken: cancellationToken).ConfigureAwait(false))
                    {
                        keys.Add(key);
                    }
                }
            }
            catch (NatsKVException)
            {
                // An empty bucket: no keys.
            }
            foreach (var key in keys)
            {
                var result = await _kv.TryGetEntryAsync(key, serializer: s_raw, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (!result.Success || result.Value.Value is not { } value)
                {
                    continue;
                }
                var record = ClusterChannelDocument.Parse(value).ToRecord();
                records.Add(record);
                _recoveredRevisions[record.Id] = result.Value.Revision;
                lastSequences[record.Id] = (await GetBoundsAsync(record.Id, cancellationToken).ConfigureAwait(false)).Last;
            }
            records.Sort(static (a, b) => a.CreatedAt.CompareTo(b.CreatedAt));
            LogJoined(NodeName, _cluster.NatsUrl!, records.Count);
            return new StoreRecovery(records, lastSequences, []);
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException or NatsJSApiException)
        {
            throw new ClusterUnavailableException(
                $"NATS at {_cluster.NatsUrl} did not set up JetStream ({ex.Message}); is nats-server running with -js and stream_replicas ({_cluster.StreamReplicas}) no more than its cluster size?", ex);
        }
    }

    /// <inheritdoc />
    public void StartChangeFeed(IClusterChangeSink sink)
    {
        _sink = sink;
        _feed = Task.Run(() => WatchChannelsAsync(_closing.Token));
    }

    /// <inheritdoc />
    public ValueTask SaveChannelAsync(ChannelRecord channel, CancellationToken cancellationToken) =>
        throw new NotSupportedException("In a cluster channels are written with PutChannelAsync.");

    /// <inheritdoc />
    public ValueTask DeleteChannelAsync(Guid channelId, CancellationToken cancellationToken) => RemoveChannelAsync(channelId, cancellationToken);

    /// <inheritdoc />
    public ValueTask AppendMessageAsync(StoredMessage message, CancellationToken cancellationToken) =>
        throw new NotSupportedException("In a cluster messages are appended with AppendAsync.");

    /// <inheritdoc />
    public long GetFirstStoredSequence(Guid channelId) => _firstSequences.GetValueOrDefault(channelId);

    /// <summary>Nothing to do: the stream's MaxAge and MaxMsgsPerSubject limits apply retention inside JetStream.</summary>
    public ValueTask ApplyRetentionAsync(DateTimeOffset now, int retentionDays, int maxMessagesPerChannel, CancellationToken cancellationToken) =>
        ValueTask.CompletedTask;

    /// <summary>Not offered in a cluster: back up the JetStream store instead (<c>nats stream backup</c>).</summary>
    public ValueTask BackupAsync(string directory, CancellationToken cancellationToken) =>
        throw new NotSupportedException("In a cluster the messages live in NATS JetStream; back up its stream and bucket with NATS tools.");

    /// <summary>Nothing to flush: every write was acknowledged by JetStream before it was reported done.</summary>
    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _closing.Cancel();
        var loops = new List<Task> { _feed };
        lock (_followGate)
        {
            foreach (var follower in _followers.Values)
            {
                follower.Linger?.Dispose();
                follower.Linger = null;
                loops.Add(follower.Loop);
            }
        }
        try
        {
            await Task.WhenAll(loops).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Loops end on cancellation; one that does not end in time is abandoned with the connection.
        }
        _connection.ConnectionDisconnected -= OnDisconnected;
        _connection.ConnectionOpened -= OnOpened;
        await _connection.DisposeAsync().ConfigureAwait(false);
        _closing.Dispose();
    }

    private static string Subject(Guid channelId) => SubjectPrefix + channelId.ToString("N");

    private static string StreamOf(Guid channelId) => StreamPrefix + channelId.ToString("N");

    private void EnsureConnected()
    {
        if (!IsConnected || _kv is null)
        {
            throw new ClusterUnavailableException("NATS is unreachable from this node");
        }
    }

    private ValueTask OnDisconnected(object? sender, NatsEventArgs args)
    {
        LogNatsDisconnected(NodeName);
        _sink?.OnConnectionChanged(false);
        return ValueTask.CompletedTask;
    }

    private ValueTask OnOpened(object? sender, NatsEventArgs args)
    {
        if (_kv is not null)
        {
            LogNatsReconnected(NodeName);
            _sink?.OnConnectionChanged(true);
        }
        return ValueTask.CompletedTask;
    }

    private DateTimeOffset Now() => Rfc3339.Truncate(_time.GetUtcNow());

    [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "Cluster node {Node} joined through NATS at {Url}: {Count} channel(s)")]
    private partial void LogJoined(string node, string url, int count);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "Cluster node {Node} lost its NATS connection; broadcasts are refused (503) until it is back")]
    private partial void LogNatsDisconnected(string node);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "Cluster node {Node} reconnected to NATS")]
    private partial void LogNatsReconnected(string node);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Warning, Message = "Channel change feed interrupted; resuming at revision {Revision}")]
    private partial void LogFeedInterrupted(ulong revision, Exception exception);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Warning, Message = "Following channel {ChannelId} interrupted after sequence {Sequence}; resuming")]
    private partial void LogFollowInterrupted(Guid channelId, long sequence, Exception exception);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Debug, Message = "Channel {ChannelId}: node {Node} starts following it (a local client joined)")]
    private partial void LogFollowStarted(Guid channelId, string node);

    [LoggerMessage(EventId = 1107, Level = LogLevel.Debug, Message = "Channel {ChannelId}: node {Node} stops following it after sequence {Sequence} (no local client for unfollow_delay)")]
    private partial void LogFollowStopped(Guid channelId, string node, long sequence);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Warning, Message = "Channel {ChannelId}: a gap after sequence {Sequence} (next came {Next}); fetched the missing messages from the stream")]
    private partial void LogGapFilled(Guid channelId, long sequence, long next);
}
