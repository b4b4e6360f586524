using System.Globalization;
using System.Text;

namespace EmitHub.Tests.Compression;

/// <summary>A realistic 1-2 KB live-dashboard broadcast body: a short content line and a JSON <c>data</c> object of
/// metrics (repetitive keys, varying numbers) — what compression is for.</summary>
internal static class DashboardPayload
{
    public static string Body(int index)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{{\"content\":\"Sales dashboard update {index}\",\"message_type\":\"Broadcast\",\"data\":{{\"region\":\"EMEA\",\"stores\":[");
        for (var store = 0; store < 12; store++)
        {
            if (store > 0)
            {
                sb.Append(',');
            }
            sb.Append(CultureInfo.InvariantCulture,
                $"{{\"store_id\":\"store-{store:D3}\",\"revenue\":{(index * 7919 + store * 104729) % 100000 / 100.0:F2},\"orders\":{(index + store * 31) % 500},\"status\":\"open\"}}");
        }
        sb.Append("]}}");
        return sb.ToString();
    }
}
