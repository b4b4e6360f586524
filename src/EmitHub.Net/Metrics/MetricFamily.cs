using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace EmitHub.Net.Metrics;

/// <summary>Prometheus metric types (text exposition format 0.0.4).</summary>
internal enum MetricType
{
    /// <summary>Monotonic total (<c>Counter</c>, <c>ObservableCounter</c>); the name ends in <c>_total</c>.</summary>
    Counter,
    /// <summary>Value that goes up and down (<c>ObservableGauge</c>, <c>UpDownCounter</c>).</summary>
    Gauge,
    /// <summary>Cumulative buckets, sum and count (<c>Histogram</c>).</summary>
    Histogram,
}

/// <summary>
/// What <see cref="MetricsCollector"/> keeps for one instrument: its Prometheus name, help and type, and one
/// <see cref="MetricCell"/> per value of its label. An instrument has at most one tag (the server's instruments are
/// built that way); the tag's key is the label name. Recording is lock-free: a lookup of the tag's string value
/// (no allocation) and an interlocked update.
/// </summary>
internal sealed class MetricFamily
{
    private readonly ConcurrentDictionary<string, MetricCell> _labeled = new(StringComparer.Ordinal);
    private readonly MetricCell _unlabeled;
    private readonly double[] _bounds;

    public MetricFamily(string name, string help, MetricType type, bool observable, double[] bounds)
    {
        Name = name;
        Help = help;
        Type = type;
        Observable = observable;
        _bounds = bounds;
        _unlabeled = new MetricCell(bounds.Length);
    }

    /// <summary>Prometheus family name (counters end in <c>_total</c>).</summary>
    public string Name { get; }

    /// <summary>The <c># HELP</c> text.</summary>
    public string Help { get; }

    /// <summary>The <c># TYPE</c>.</summary>
    public MetricType Type { get; }

    /// <summary>Observed at collection (values are set, not added).</summary>
    public bool Observable { get; }

    /// <summary>Histogram upper bounds, ascending, without +Inf.</summary>
    public ReadOnlySpan<double> Bounds => _bounds;

    /// <summary>The label name, once a tagged measurement arrived.</summary>
    public string? LabelName { get; private set; }

    /// <summary>Whether any unlabeled measurement arrived.</summary>
    public bool HasUnlabeled { get; private set; }

    /// <summary>The cells by label value, sorted for stable output.</summary>
    public IEnumerable<KeyValuePair<string, MetricCell>> Labeled => _labeled.OrderBy(p => p.Key, StringComparer.Ordinal);

    /// <summary>The cell without a label.</summary>
    public MetricCell Unlabeled => _unlabeled;

    public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var cell = CellFor(tags);
        switch (Type)
        {
            case MetricType.Histogram:
                cell.Observe(value, _bounds);
                break;
            case MetricType.Counter when !Observable:
                cell.Add(value);
                break;
            default:
                cell.Set(value);
                break;
        }
    }

    private MetricCell CellFor(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0)
        {
            HasUnlabeled = true;
            return _unlabeled;
        }
        var tag = tags[0];
        LabelName ??= tag.Key;
        var key = tag.Value as string ?? Convert.ToString(tag.Value, System.Globalization.CultureInfo.InvariantCulture) ?? "";
        return _labeled.TryGetValue(key, out var cell) ? cell : _labeled.GetOrAdd(key, _ => new MetricCell(_bounds.Length));
    }

    /// <summary>Builds the family of <paramref name="instrument"/>, or null for an instrument kind that is not exposed.</summary>
    public static MetricFamily? For(Instrument instrument)
    {
        var (type, observable) = instrument switch
        {
            Counter<long> or Counter<double> or Counter<int> => (MetricType.Counter, false),
            ObservableCounter<long> or ObservableCounter<double> or ObservableCounter<int> => (MetricType.Counter, true),
            ObservableGauge<long> or ObservableGauge<double> or ObservableGauge<int> => (MetricType.Gauge, true),
            UpDownCounter<long> or UpDownCounter<int> => (MetricType.Gauge, false),
            Histogram<double> => (MetricType.Histogram, false),
            _ => ((MetricType)(-1), false),
        };
        if ((int)type < 0)
        {
            return null;
        }
        var bounds = instrument is Histogram<double> histogram
            ? histogram.Advice?.HistogramBucketBoundaries?.ToArray() ?? MetricsCollector.DefaultSecondsBuckets
            : [];
        return new MetricFamily(PrometheusName(instrument.Name, instrument.Unit, type), instrument.Description ?? instrument.Name,
            type, observable, bounds);
    }

    /// <summary>
    /// The Prometheus name of an instrument, as OpenTelemetry's Prometheus exporter forms it: dots become
    /// underscores, the unit becomes a suffix (<c>s</c> → <c>_seconds</c>, <c>By</c> → <c>_bytes</c>; annotations
    /// in braces add nothing), and a counter ends in <c>_total</c>.
    /// </summary>
    public static string PrometheusName(string name, string? unit, MetricType type)
    {
        var result = name.Replace('.', '_').Replace('-', '_');
        var suffix = unit switch
        {
            "s" => "_seconds",
            "ms" => "_milliseconds",
            "By" => "_bytes",
            "1" => "_ratio",
            _ => "",
        };
        if (suffix.Length > 0 && !result.EndsWith(suffix, StringComparison.Ordinal))
        {
            result += suffix;
        }
        if (type == MetricType.Counter && !result.EndsWith("_total", StringComparison.Ordinal))
        {
            result += "_total";
        }
        return result;
    }
}

/// <summary>One time series (or, for a histogram, one set of buckets). Values are updated with interlocked
/// operations; reads during an update may see a histogram's count one ahead of its buckets, which Prometheus
/// tolerates as it does for every client library.</summary>
internal sealed class MetricCell(int bucketCount)
{
    private readonly long[] _buckets = new long[bucketCount + 1];
    private long _count;
    private double _value;

    /// <summary>Counter total or gauge value; histogram sum.</summary>
    public double Value => Volatile.Read(ref _value);

    /// <summary>Histogram observations.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>Histogram observations per bucket (not cumulative); the last is above every bound.</summary>
    public long BucketCount(int index) => Interlocked.Read(ref _buckets[index]);

    public void Add(double delta)
    {
        double current, updated;
        do
        {
            current = Volatile.Read(ref _value);
            updated = current + delta;
        }
        while (Interlocked.CompareExchange(ref _value, updated, current) != current);
    }

    public void Set(double value) => Volatile.Write(ref _value, value);

    public void Observe(double value, double[] bounds)
    {
        var index = 0;
        while (index < bounds.Length && value > bounds[index])
        {
            index++;
        }
        Interlocked.Increment(ref _buckets[index]);
        Add(value);
        Interlocked.Increment(ref _count);
    }
}
