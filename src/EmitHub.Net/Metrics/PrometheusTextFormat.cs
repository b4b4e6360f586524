using System.Globalization;
using System.Text;

namespace EmitHub.Net.Metrics;

/// <summary>
/// Writes metric families in the Prometheus text exposition format 0.0.4 (prometheus.io/docs/instrumenting/
/// exposition_formats): <c># HELP</c> and <c># TYPE</c> per family, one sample per line, label values escaped
/// (<c>\\</c>, <c>\"</c>, <c>\n</c>), histograms as cumulative <c>_bucket{le=…}</c> lines ending in
/// <c>le="+Inf"</c>, then <c>_sum</c> and <c>_count</c>.
/// </summary>
internal static class PrometheusTextFormat
{
    public static void Write(StringBuilder sb, MetricFamily family)
    {
        var hasLabeled = family.LabelName is not null;
        if (!hasLabeled && !family.HasUnlabeled && family.Type != MetricType.Counter && family.Type != MetricType.Histogram)
        {
            return; // an observable gauge that reported nothing
        }
        sb.Append("# HELP ").Append(family.Name).Append(' ').Append(EscapeHelp(family.Help)).Append('\n');
        sb.Append("# TYPE ").Append(family.Name).Append(' ').Append(family.Type switch
        {
            MetricType.Counter => "counter",
            MetricType.Gauge => "gauge",
            _ => "histogram",
        }).Append('\n');
        if (family.HasUnlabeled || !hasLabeled)
        {
            WriteCell(sb, family, null, null, family.Unlabeled);
        }
        if (hasLabeled)
        {
            foreach (var (value, cell) in family.Labeled)
            {
                WriteCell(sb, family, family.LabelName, value, cell);
            }
        }
    }

    private static void WriteCell(StringBuilder sb, MetricFamily family, string? label, string? value, MetricCell cell)
    {
        if (family.Type != MetricType.Histogram)
        {
            Sample(sb, family.Name, label, value, null, cell.Value);
            return;
        }
        long cumulative = 0;
        var bounds = family.Bounds;
        for (var i = 0; i < bounds.Length; i++)
        {
            cumulative += cell.BucketCount(i);
            Sample(sb, family.Name + "_bucket", label, value, Format(bounds[i]), cumulative);
        }
        cumulative += cell.BucketCount(bounds.Length);
        Sample(sb, family.Name + "_bucket", label, value, "+Inf", cumulative);
        Sample(sb, family.Name + "_sum", label, value, null, cell.Value);
        Sample(sb, family.Name + "_count", label, value, null, cumulative);
    }

    private static void Sample(StringBuilder sb, string name, string? label, string? value, string? le, double sample)
    {
        sb.Append(name);
        if (label is not null || le is not null)
        {
            sb.Append('{');
            if (label is not null)
            {
                sb.Append(label).Append("=\"").Append(EscapeLabel(value!)).Append('"');
            }
            if (le is not null)
            {
                sb.Append(label is null ? "" : ",").Append("le=\"").Append(le).Append('"');
            }
            sb.Append('}');
        }
        sb.Append(' ').Append(Format(sample)).Append('\n');
    }

    /// <summary>A sample value: integers without a fraction, <c>+Inf</c>/<c>-Inf</c>/<c>NaN</c> spelled as
    /// Prometheus reads them, else the shortest round-trip form.</summary>
    public static string Format(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ when value == Math.Floor(value) && Math.Abs(value) < 1e15 => ((long)value).ToString(CultureInfo.InvariantCulture),
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    private static string EscapeHelp(string text) => text.Replace("\\", "\\\\").Replace("\n", "\\n");

    private static string EscapeLabel(string text) => text.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}
