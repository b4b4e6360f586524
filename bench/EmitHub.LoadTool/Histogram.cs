namespace EmitHub.LoadTool;

/// <summary>Log-linear latency histogram (HdrHistogram-like): values in microseconds, 64 linear
/// sub-buckets per power of two, so every recorded value is kept within 1/64 (~1.6 %) relative error.
/// Single writer; merge by adding counts.</summary>
internal sealed class Histogram
{
    private const int SubBits = 6;
    private const int Sub = 1 << SubBits; // 64
    public const int BucketCount = 2 * Sub + 48 * Sub;
    public readonly long[] Counts = new long[BucketCount];
    public long Total;
    public long Max;
    public double Sum;

    public static int IndexOf(long v)
    {
        if (v < 0)
        {
            v = 0;
        }
        if (v < 2 * Sub)
        {
            return (int)v;
        }
        var msb = 63 - (int)long.LeadingZeroCount(v);
        var shift = msb - SubBits; // (v >> shift) in [64, 127]
        var idx = 2 * Sub + (shift - 1) * Sub + (int)((v >> shift) - Sub);
        return Math.Min(idx, BucketCount - 1);
    }

    /// <summary>Upper bound (inclusive) of the values a bucket holds.</summary>
    public static long ValueOf(int idx)
    {
        if (idx < 2 * Sub)
        {
            return idx;
        }
        var shift = (idx - 2 * Sub) / Sub + 1;
        var mant = (idx - 2 * Sub) % Sub + Sub;
        return ((long)(mant + 1) << shift) - 1;
    }

    public void Record(long v)
    {
        Counts[IndexOf(v)]++;
        Total++;
        Sum += v;
        if (v > Max)
        {
            Max = v;
        }
    }

    public void Add(Histogram other)
    {
        for (var i = 0; i < BucketCount; i++)
        {
            Counts[i] += other.Counts[i];
        }
        Total += other.Total;
        Sum += other.Sum;
        Max = Math.Max(Max, other.Max);
    }

    public long Percentile(double p)
    {
        if (Total == 0)
        {
            return 0;
        }
        var rank = (long)Math.Ceiling(p / 100.0 * Total);
        rank = Math.Max(1, rank);
        long seen = 0;
        for (var i = 0; i < BucketCount; i++)
        {
            seen += Counts[i];
            if (seen >= rank)
            {
                return Math.Min(ValueOf(i), Max);
            }
        }
        return Max;
    }

    /// <summary>Sparse text form "idx:count,..." for the worker-to-parent line protocol.</summary>
    public string Encode()
    {
        var sb = new System.Text.StringBuilder();
        sb.Append(Total).Append(';').Append(Max).Append(';').Append(Sum.ToString("R", System.Globalization.CultureInfo.InvariantCulture)).Append(';');
        for (var i = 0; i < BucketCount; i++)
        {
            if (Counts[i] != 0)
            {
                sb.Append(i).Append(':').Append(Counts[i]).Append(',');
            }
        }
        return sb.ToString();
    }

    public static Histogram Decode(string s)
    {
        var h = new Histogram();
        var parts = s.Split(';');
        h.Total = long.Parse(parts[0]);
        h.Max = long.Parse(parts[1]);
        h.Sum = double.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture);
        foreach (var pair in parts[3].Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var c = pair.IndexOf(':');
            h.Counts[int.Parse(pair.AsSpan(0, c))] = long.Parse(pair.AsSpan(c + 1));
        }
        return h;
    }
}
