using System.Runtime.InteropServices;

namespace EmitHub.LoadTool;

/// <summary>Reads /proc: CPU seconds (utime+stime from stat) and resident set size (VmRSS).</summary>
internal static partial class Proc
{
    private const double TicksPerSecond = 100.0; // USER_HZ; sysconf(_SC_CLK_TCK) is 100 on Linux x86-64

    /// <summary>utime + stime of a process in seconds; NaN when it cannot be read.</summary>
    public static double CpuSeconds(int pid)
    {
        if (pid <= 0)
        {
            return double.NaN;
        }
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the parenthesised comm (which may hold spaces): state is field 3.
            var f = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(f[11]) + long.Parse(f[12])) / TicksPerSecond;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return double.NaN;
        }
    }

    /// <summary>VmRSS in KiB; -1 when it cannot be read.</summary>
    public static long RssKb(int pid)
    {
        if (pid <= 0)
        {
            return -1;
        }
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim());
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
        }
        return -1;
    }

    private struct Timespec
    {
        public long Sec;
        public long Nsec;
    }

    [LibraryImport("libc")]
    private static unsafe partial int clock_nanosleep(int clock, int flags, Timespec* req, Timespec* rem);

    /// <summary>Sleeps until an absolute CLOCK_MONOTONIC time (µs): precise to the timer slack
    /// (~50 µs), unlike Thread.Sleep's millisecond rounding.</summary>
    public static unsafe void SleepUntilUs(long us)
    {
        var ts = new Timespec { Sec = us / 1_000_000, Nsec = us % 1_000_000 * 1000 };
        while (clock_nanosleep(1 /* CLOCK_MONOTONIC */, 1 /* TIMER_ABSTIME */, &ts, null) == 4 /* EINTR */)
        {
        }
    }
}
