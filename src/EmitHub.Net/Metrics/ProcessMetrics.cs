using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace EmitHub.Net.Metrics;

/// <summary>
/// Process figures on the server's meter, named so that they come out under the Prometheus client libraries'
/// standard names: <c>process_cpu_seconds_total</c>, <c>process_resident_memory_bytes</c>,
/// <c>process_open_fds</c>, <c>process_max_fds</c>, <c>process_start_time_seconds</c>, plus the GC's
/// <c>dotnet_gc_heap_bytes</c> and <c>dotnet_gc_collections_total</c>. Read only at collection.
/// </summary>
internal static class ProcessMetrics
{
    private static readonly double s_startTime =
        (Process.GetCurrentProcess().StartTime.ToUniversalTime() - DateTime.UnixEpoch).TotalSeconds;

    public static void Register(Meter meter)
    {
        meter.CreateObservableCounter("process.cpu", () => Environment.CpuUsage.TotalTime.TotalSeconds, "s",
            "CPU time used by the process, user and system.");
        meter.CreateObservableGauge("process.resident_memory", () => Environment.WorkingSet, "By",
            "Resident set size of the process.");
        meter.CreateObservableGauge("process.open_fds", CountOpenFds, "{fd}",
            "File descriptors open (sockets included), from /proc/self/fd.");
        meter.CreateObservableGauge("process.max_fds", ReadMaxFds, "{fd}",
            "The process's soft limit on open file descriptors (RLIMIT_NOFILE), from /proc/self/limits.");
        meter.CreateObservableGauge("process.start_time", () => s_startTime, "s",
            "Start time of the process, in seconds since the Unix epoch.");
        meter.CreateObservableGauge("dotnet.gc.heap", () => GC.GetGCMemoryInfo().HeapSizeBytes, "By",
            "Size of the managed heap after the last garbage collection, fragmentation included.");
        meter.CreateObservableCounter("dotnet.gc.collections", ObserveCollections, "{collection}",
            "Garbage collections since start, by generation (a gen1 collection also counts as gen0's, as in GC.CollectionCount).");
    }

    private static IEnumerable<Measurement<long>> CountOpenFds()
    {
        try
        {
            return [new(Directory.EnumerateFileSystemEntries("/proc/self/fd").LongCount())];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return []; // not Linux, or /proc not mounted: the series is left out rather than reported as 0
        }
    }

    private static IEnumerable<Measurement<long>> ReadMaxFds()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (fields.Length > 0 && long.TryParse(fields[0], out var soft))
                    {
                        return [new(soft)];
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return [];
    }

    private static IEnumerable<Measurement<long>> ObserveCollections() =>
    [
        new(GC.CollectionCount(0), new KeyValuePair<string, object?>("generation", "gen0")),
        new(GC.CollectionCount(1), new KeyValuePair<string, object?>("generation", "gen1")),
        new(GC.CollectionCount(2), new KeyValuePair<string, object?>("generation", "gen2")),
    ];
}
