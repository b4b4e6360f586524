using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace EmitHub.Core.Diagnostics;

/// <summary>
/// The server's <see cref="System.Diagnostics.Metrics.Meter"/> (named <see cref="MeterName"/>, so
/// <c>dotnet-counters monitor --counters EmitHub</c> sees it) and the instruments Core records into. Net adds its
/// own instruments (connections, bytes, process figures) to the same <see cref="Meter"/>; <c>GET /metrics</c> reads
/// them all through a <see cref="MeterListener"/>.
/// <para>
/// One instance per server, not a static: several servers in one process (the tests) each count only their own.
/// Counting is once per broadcast (deliveries are added as the broadcast's recipient count), never per subscriber,
/// and never allocates: an instrument's <c>Add</c> with no listener is a few instructions, with one it is a
/// dictionary hit and an interlocked add.
/// </para>
/// </summary>
public sealed class HubMetrics : IDisposable
{
    /// <summary>Name of the meter: <c>EmitHub</c>.</summary>
    public const string MeterName = "EmitHub";

    private static readonly KeyValuePair<string, object?> s_broadcastKind = new("kind", "broadcast");
    private static readonly KeyValuePair<string, object?> s_clientMessageKind = new("kind", "client_message");

    /// <summary>Creates the meter and Core's instruments.</summary>
    /// <param name="version">Meter version (the server's version), or null.</param>
    public HubMetrics(string? version = null)
    {
        Meter = new Meter(MeterName, version);
        Broadcasts = Meter.CreateCounter<long>("emithub.broadcasts", "{message}",
            "REST broadcasts accepted (acknowledged with 200).");
        ClientMessages = Meter.CreateCounter<long>("emithub.client_messages", "{message}",
            "Client text messages relayed to a channel as client_message envelopes.");
        Deliveries = Meter.CreateCounter<long>("emithub.deliveries", "{message}",
            "Envelopes handed to subscribers' queues: each broadcast or client message counts once per recipient.");
        RateLimited = Meter.CreateCounter<long>("emithub.rate_limited", "{request}",
            "Requests refused by rate_limit_per_minute, by kind: broadcast (REST 429) or client_message (error envelope).");
        PublishDuration = Meter.CreateHistogram<double>("emithub.publish.duration", "s",
            "Time from a broadcast's arrival in the registry to its acknowledgement, store commit included.");
        StoreCommitDuration = Meter.CreateHistogram<double>("emithub.store.commit.duration", "s",
            "Time a store write (message or channel change) waited for its FASTER commit.");
    }

    /// <summary>The <c>EmitHub</c> meter; Net creates its instruments on it.</summary>
    public Meter Meter { get; }

    /// <summary><c>emithub.broadcasts</c>: accepted REST broadcasts.</summary>
    public Counter<long> Broadcasts { get; }

    /// <summary><c>emithub.client_messages</c>: relayed client messages.</summary>
    public Counter<long> ClientMessages { get; }

    /// <summary><c>emithub.deliveries</c>: recipients summed over every published message.</summary>
    public Counter<long> Deliveries { get; }

    /// <summary><c>emithub.rate_limited</c>, tag <c>kind</c>.</summary>
    public Counter<long> RateLimited { get; }

    /// <summary><c>emithub.publish.duration</c>, seconds.</summary>
    public Histogram<double> PublishDuration { get; }

    /// <summary><c>emithub.store.commit.duration</c>, seconds.</summary>
    public Histogram<double> StoreCommitDuration { get; }

    /// <summary>Registers <c>emithub.channels</c>, the channels per status (tag <c>status</c>), observed at each
    /// collection through <paramref name="observe"/>.</summary>
    public void ObserveChannels(Func<IEnumerable<Measurement<long>>> observe) =>
        Meter.CreateObservableGauge("emithub.channels", observe, "{channel}", "Channels by status (deleted channels are not counted).");

    /// <summary>
    /// Registers a cluster node's follow instruments (issue 11), observed at each collection:
    /// <c>emithub.cluster.followed_channels</c> (gauge: channels whose stream this node consumes now, lingering ones
    /// included), <c>emithub.cluster.follows.started</c> and <c>emithub.cluster.follows.stopped</c> (counters:
    /// followers started, followers stopped after <c>unfollow_delay</c> or by a delete).
    /// </summary>
    public void ObserveClusterFollows(Func<int> followed, Func<long> started, Func<long> stopped)
    {
        Meter.CreateObservableGauge("emithub.cluster.followed_channels", () => (long)followed(), "{channel}",
            "Channels this cluster node follows now (consumes their JetStream stream), those lingering after their last local client left included.");
        Meter.CreateObservableCounter("emithub.cluster.follows.started", started, "{follow}",
            "Channel followers this node started: first follows, and follows again after an unfollow.");
        Meter.CreateObservableCounter("emithub.cluster.follows.stopped", stopped, "{follow}",
            "Channel followers this node stopped: no local client for unfollow_delay, or the channel deleted.");
    }

    internal void OnRateLimited(bool broadcast) => RateLimited.Add(1, broadcast ? s_broadcastKind : s_clientMessageKind);

    /// <summary>Seconds since <paramref name="startTimestamp"/> (a <see cref="Stopwatch.GetTimestamp"/> value).</summary>
    internal static double SecondsSince(long startTimestamp) => Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds;

    /// <summary>Unpublishes every instrument (listeners stop receiving them).</summary>
    public void Dispose() => Meter.Dispose();
}
