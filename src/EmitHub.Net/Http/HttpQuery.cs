using System.Globalization;

namespace EmitHub.Net.Http;

/// <summary>Query-string reading shared by the REST history endpoint and the WebSocket upgrade (<c>after</c>, <c>limit</c>, <c>epoch</c>).</summary>
internal static class HttpQuery
{
    /// <summary>The <c>name=value</c> pairs of <paramref name="query"/> (with or without its leading <c>?</c>), values
    /// percent-decoded; a name without <c>=</c> has an empty value.</summary>
    public static IEnumerable<(string Name, string Value)> Pairs(string query)
    {
        foreach (var pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            yield return eq < 0 ? (pair, "") : (pair[..eq], Uri.UnescapeDataString(pair[(eq + 1)..]));
        }
    }

    /// <summary>A per-channel sequence: 1*DIGIT, 0 or more.</summary>
    public static bool TryParseSequence(string value, out long sequence) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out sequence);
}
