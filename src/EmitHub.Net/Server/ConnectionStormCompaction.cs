using System.Diagnostics;
using System.Runtime;

namespace EmitHub.Net.Server;

/// <summary>
/// One compacting, decommitting gen-2 collection after a connection storm has settled (issue 10, GC design).
/// <para>
/// Why: a storm (every display reconnecting after a restart or a deploy) interleaves each handshake's short-lived
/// objects with the long-lived state of the connections that stay. Much of that garbage is promoted while thousands
/// of handshakes are in flight, so the storm leaves gen 2 fragmented and committed: measured at 15,000 idle
/// WebSockets, RSS per connection was about twice what the live objects need (bench/results/2026-12-05-idle-bytes.md).
/// <c>GCConserveMemory</c> only compacts once fragmentation passes its threshold, and nothing else runs a full GC
/// while the hub is idle, so that memory stayed committed for as long as the connections stayed.
/// </para>
/// <para>
/// Policy, evaluated once per heartbeat tick (about 1 s): when the number of open connections has grown by at least
/// <see cref="MinimumGrowth"/> since the last compaction (or since start), and the accept rate has then stayed below
/// <see cref="QuietAcceptsPerTick"/> for <see cref="QuietTicks"/> ticks in a row, run one blocking
/// <see cref="GCCollectionMode.Aggressive"/> collection (compacts gen 2 and the large object heap, returns free
/// memory to the OS). A drop in open connections lowers the baseline, so the next storm triggers again. The pause is
/// paid once per storm, when the hub has just finished a burst of handshakes, never per message.
/// </para>
/// </summary>
public sealed class ConnectionStormCompaction
{
    /// <summary>Growth in open connections since the last compaction that makes a storm: 1,000.</summary>
    public const int MinimumGrowth = 1_000;

    /// <summary>At most this many accepts in one tick count as quiet: 16.</summary>
    public const long QuietAcceptsPerTick = 16;

    /// <summary>Quiet ticks in a row before compacting: 2 (about 2 s).</summary>
    public const int QuietTicks = 2;

    private readonly Action _collect;
    private readonly int _minimumGrowth;
    private int _baseline;
    private long _lastAccepted;
    private int _quiet;

    /// <summary>Creates the policy; <paramref name="collect"/> runs the collection (tests count calls instead);
    /// <paramref name="minimumGrowth"/> overrides <see cref="MinimumGrowth"/> (tests use small storms).</summary>
    public ConnectionStormCompaction(Action? collect = null, int minimumGrowth = MinimumGrowth)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(minimumGrowth);
        _collect = collect ?? CompactAndDecommit;
        _minimumGrowth = minimumGrowth;
    }

    /// <summary>Collections run so far.</summary>
    public int Compactions { get; private set; }

    /// <summary>
    /// Feeds one tick: <paramref name="accepted"/> is the total of connections ever accepted, <paramref name="open"/>
    /// the connections open now. Returns true when this tick ran the collection. Not thread-safe: one caller (the tick).
    /// </summary>
    public bool OnTick(long accepted, int open)
    {
        var accepts = accepted - _lastAccepted;
        _lastAccepted = accepted;
        if (open < _baseline)
        {
            _baseline = open;
        }
        _quiet = accepts <= QuietAcceptsPerTick ? _quiet + 1 : 0;
        if (_quiet < QuietTicks || open - _baseline < _minimumGrowth)
        {
            return false;
        }
        _collect();
        Compactions++;
        _baseline = open;
        return true;
    }

    /// <summary>Blocking, compacting gen-2 collection that also decommits free memory (LOH included).</summary>
    public static void CompactAndDecommit()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    /// <summary>Runs <see cref="CompactAndDecommit"/> and reports what it cost and freed.</summary>
    /// <returns>Pause in milliseconds; process resident set (bytes) before and after.</returns>
    public static (double PauseMs, long RssBefore, long RssAfter) CompactAndMeasure()
    {
        var before = Environment.WorkingSet;
        var watch = Stopwatch.StartNew();
        CompactAndDecommit();
        var pause = watch.Elapsed.TotalMilliseconds;
        return (pause, before, Environment.WorkingSet);
    }
}
