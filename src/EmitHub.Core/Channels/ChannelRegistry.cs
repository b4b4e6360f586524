using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using EmitHub.Core.Cluster;
using EmitHub.Core.Configuration;
using EmitHub.Core.Diagnostics;
using EmitHub.Core.Fanout;
using EmitHub.Core.Storage;
using Microsoft.Extensions.Logging;

namespace EmitHub.Core.Channels;

/// <summary>
/// Owns every channel: the status machine (SPEC §2), sequences, rate limits, the store writes and the fan-out of
/// envelopes to subscribers (SPEC §3, §6). Thread-safe. Each channel's changes are serialized by its own lock;
/// the store record of a change is enqueued under that lock (so the log has the changes in order) and awaited
/// outside it (so a slow commit never blocks other channels).
/// </summary>
public sealed partial class ChannelRegistry : IAsyncDisposable
{
    private readonly LiveOptions _options;
    private readonly IChannelStore _store;
    private readonly IClusterStore? _cluster;
    private readonly IFrameEncoder _encoder;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<Guid, Channel> _channels = new();
    private readonly HubMetrics _metrics;
    private readonly ByteBudget _replayLastBudget;
    private readonly ByteBudget _catchUpBudget;
    private readonly Lock _createGate = new();
    private volatile bool _ready;
    private long _nextOrder;

    /// <summary>Creates an empty registry; call <see cref="InitializeAsync"/> to load the stored channels.</summary>
    /// <param name="options">Live configuration.</param>
    /// <param name="store">The store of channels and messages.</param>
    /// <param name="encoder">Frames envelopes (Net's RFC 6455 encoder).</param>
    /// <param name="time">Clock of timestamps and rate limits.</param>
    /// <param name="logger">Registry log.</param>
    /// <param name="metrics">The server's meter and instruments; null creates one. Disposed with the registry.</param>
    public ChannelRegistry(LiveOptions options, IChannelStore store, IFrameEncoder encoder, TimeProvider time, ILogger<ChannelRegistry> logger,
        HubMetrics? metrics = null)
    {
        _options = options;
        _store = store;
        _cluster = store as IClusterStore;
        _encoder = encoder;
        _time = time;
        _logger = logger;
        _replayLastBudget = new ByteBudget(() => _options.Current.ReplayLastMaxBytes);
        _catchUpBudget = new ByteBudget(() => _options.Current.CatchUpRingMaxBytes);
        _metrics = metrics ?? new HubMetrics();
        _metrics.ObserveChannels(ObserveChannelsByStatus);
        if (_cluster is { } cluster)
        {
            _metrics.ObserveClusterFollows(() => cluster.FollowedChannels, () => cluster.FollowsStarted, () => cluster.FollowsStopped);
        }
    }

    /// <summary>The server's meter and Core's instruments (Net adds its own to <see cref="HubMetrics.Meter"/>).</summary>
    public HubMetrics Metrics => _metrics;

    private IEnumerable<System.Diagnostics.Metrics.Measurement<long>> ObserveChannelsByStatus()
    {
        Span<long> counts = stackalloc long[4];
        foreach (var channel in _channels.Values)
        {
            if (!channel.Deleted && (uint)channel.Status < 4)
            {
                counts[(int)channel.Status]++;
            }
        }
        return
        [
            new(counts[(int)ChannelStatus.Created], new KeyValuePair<string, object?>("status", "Created")),
            new(counts[(int)ChannelStatus.Active], new KeyValuePair<string, object?>("status", "Active")),
            new(counts[(int)ChannelStatus.Paused], new KeyValuePair<string, object?>("status", "Paused")),
            new(counts[(int)ChannelStatus.Stopped], new KeyValuePair<string, object?>("status", "Stopped")),
        ];
    }

    /// <summary>True once recovery finished and the store is healthy (<c>/ready</c>).</summary>
    public bool IsReady => _ready && _store.IsHealthy;

    /// <summary>Bytes held now by the <c>replay_last</c> caches of all channels (bounded by <c>replay_last_max_bytes</c>).</summary>
    public long ReplayLastBytes => _replayLastBudget.Used;

    /// <summary>Bytes held now by the catch-up rings of all channels (bounded by <c>catch_up_ring_max_bytes</c>).</summary>
    public long CatchUpRingBytes => _catchUpBudget.Used;

    /// <summary>True once recovery finished.</summary>
    public bool IsRecovered => _ready;

    /// <summary>The store behind the registry (health checks, maintenance).</summary>
    public IChannelStore Store => _store;

    /// <summary>Every channel, oldest first.</summary>
    public IReadOnlyList<ChannelSnapshot> List()
    {
        var channels = _channels.Values.ToArray();
        Array.Sort(channels, static (a, b) => a.Order.CompareTo(b.Order));
        var list = new List<ChannelSnapshot>(channels.Length);
        foreach (var channel in channels)
        {
            lock (channel.Gate)
            {
                if (!channel.Deleted)
                {
                    list.Add(channel.Snapshot());
                }
            }
        }
        return list;
    }

    /// <summary>The channel, or null when unknown.</summary>
    public ChannelSnapshot? Get(Guid id)
    {
        if (!_channels.TryGetValue(id, out var channel))
        {
            return null;
        }
        lock (channel.Gate)
        {
            return channel.Deleted ? null : channel.Snapshot();
        }
    }

    /// <summary>
    /// Graceful stop: every subscriber gets close 1001 ("server shutting down"), then the store is flushed.
    /// </summary>
    public async ValueTask ShutdownAsync(CancellationToken cancellationToken)
    {
        foreach (var channel in _channels.Values)
        {
            IChannelSubscriber[] toClose;
            lock (channel.Gate)
            {
                toClose = channel.Subscribers.RemoveAll();
                channel.Connections -= toClose.Length;
            }
            foreach (var subscriber in toClose)
            {
                subscriber.Close(SubscriberCloseReason.ServerShutdown);
            }
        }
        await _store.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        foreach (var channel in _channels.Values)
        {
            lock (channel.Gate)
            {
                channel.ReleaseResources();
            }
        }
        _metrics.Dispose();
        return ValueTask.CompletedTask;
    }

    private bool TryGetLive(Guid id, out Channel channel) => _channels.TryGetValue(id, out channel!) && !channel.Deleted;
    /// <summary>True when the store refused the append at once (<see cref="StoreBackpressureException"/>): nothing
    /// was stored and no sequence was used.</summary>
    private static bool IsBackpressure(ValueTask stored, out StoreBackpressureException busy)
    {
        busy = null!;
        if (stored.IsFaulted && stored.AsTask().Exception?.InnerException is StoreBackpressureException refused)
        {
            busy = refused;
            return true;
        }
        return false;
    }

    private async ValueTask<bool> CommitAsync(ValueTask pending)
    {
        // A write that completed synchronously (nothing stored, or the in-memory store) waited for no commit.
        var started = pending.IsCompleted ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            await pending.ConfigureAwait(false);
            if (started != 0)
            {
                _metrics.StoreCommitDuration.Record(HubMetrics.SecondsSince(started));
            }
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogCommitFailed(ex);
            return false;
        }
    }

    private DateTimeOffset Now() => Rfc3339.Truncate(_time.GetUtcNow());

    private static string NewEpoch() => Guid.NewGuid().ToString("N")[..16];

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Recovered {Count} channel(s) from the store")]
    private partial void LogRecovered(int count);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Store recovery: {Warning}")]
    private partial void LogRecoveryWarning(string warning);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Channel {ChannelId} created: {Name}")]
    private partial void LogCreated(Guid channelId, string name);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "Channel {ChannelId} is now {Status}")]
    private partial void LogStatusChanged(Guid channelId, ChannelStatus status);

    [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "Channel {ChannelId} deleted")]
    private partial void LogDeleted(Guid channelId);

    [LoggerMessage(EventId = 105, Level = LogLevel.Error, Message = "Store commit failed")]
    private partial void LogCommitFailed(Exception exception);
}

