using System.Diagnostics.Metrics;
using System.Text;

namespace EmitHub.Net.Metrics;

/// <summary>
/// Collects the instruments of one <see cref="Meter"/> (the server's <c>EmitHub</c> meter) through a
/// <see cref="MeterListener"/> and renders them in the Prometheus text exposition format for <c>GET /metrics</c>.
/// Synchronous instruments are aggregated as they record (counter sums, histogram buckets); observable ones are
/// read at each <see cref="WriteExposition"/>. Other meters in the process (another server in a test, the runtime's
/// own) are not listened to.
/// <para>
/// Evaluated instead of this: OpenTelemetry.Exporter.Prometheus.HttpListener (serves on its own
/// <c>HttpListener</c> port, a second listener beside ours, and is still a pre-release) and
/// OpenTelemetry.Exporter.Prometheus.AspNetCore (needs ASP.NET Core, which the product does not ship). The
/// exposition format is small and fixed, so the writer here is ~100 lines with no dependency.
/// </para>
/// </summary>
public sealed class MetricsCollector : IDisposable
{
    /// <summary>Buckets of a latency histogram that gives no advice: 50 µs to 10 s, in seconds.</summary>
    public static readonly double[] DefaultSecondsBuckets =
        [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly MeterListener _listener = new();
    private readonly List<MetricFamily> _families = [];
    private readonly Lock _gate = new();

    /// <summary>Starts listening to every instrument of <paramref name="meter"/>, now and created later.</summary>
    public MetricsCollector(Meter meter)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (!ReferenceEquals(instrument.Meter, meter) || MetricFamily.For(instrument) is not { } family)
            {
                return;
            }
            lock (_gate)
            {
                _families.Add(family);
            }
            listener.EnableMeasurementEvents(instrument, family);
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        _listener.Start();
    }

    /// <summary>Media type of <see cref="WriteExposition"/>: the Prometheus text format, version 0.0.4.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Reads the observable instruments, then writes every family, sorted by name.</summary>
    public string WriteExposition()
    {
        lock (_gate)
        {
            _listener.RecordObservableInstruments();
            var sb = new StringBuilder(8192);
            foreach (var family in _families.OrderBy(f => f.Name, StringComparer.Ordinal))
            {
                PrometheusTextFormat.Write(sb, family);
            }
            return sb.ToString();
        }
    }

    /// <summary>Stops listening.</summary>
    public void Dispose() => _listener.Dispose();
}
