using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.EndToEnd;

/// <summary>
/// The seed's "Dashboard en Tiempo Real" script, copied from the seed, in a page served by the hub itself through
/// <c>static_dir</c> and run in headless Chromium: its relative <c>fetch('/api/v1/channels/…/broadcast')</c> reaches the
/// hub (same origin) and its WebSocket receives the metrics it posted.
/// </summary>
public sealed partial class SeedDashboardFromHubTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>, IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("emithub-dashboard-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static string SeedDashboardScript()
    {
        var seed = File.ReadAllText(SeedCurlTests.SeedPath);
        var section = seed[seed.IndexOf("Dashboard en Tiempo Real", StringComparison.Ordinal)..];
        return JavaScriptBlock().Match(section).Groups[1].Value;
    }

    [Fact]
    public async Task The_seed_dashboard_posts_with_a_relative_fetch_and_shows_what_it_receives()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.StaticDir = _root);
        var id = await hub.CreateActiveChannelAsync();
        var script = SeedDashboardScript();
        Assert.Contains("fetch(`/api/v1/channels/${channelId}/broadcast`", script);
        script = script.Replace("ws://localhost:8080", $"ws://127.0.0.1:{hub.EndPoint.Port}", StringComparison.Ordinal);

        // The page defines what the seed's snippet leaves to the reader (the channel ids, updateDashboard) and holds
        // the minute timer so the test can fire it once the socket is open.
        var page = $$"""
<!DOCTYPE html>
<html lang="es"><head><meta charset="utf-8"><title>Ventas en vivo</title></head>
<body><pre id="metrics">esperando…</pre>
<script>
const metricsChannelId = '{{id}}';
const channelId = '{{id}}';
function updateDashboard(metrics) {
  document.getElementById('metrics').textContent = JSON.stringify(metrics);
  console.log('dashboard', metrics.sales_today, metrics.active_users);
}
window.setInterval = (callback) => { window.fireMinuteTimer = callback; return 1; };
</script>
<script>
{{script}}
</script>
</body></html>
""";
        await File.WriteAllTextAsync(Path.Combine(_root, "dashboard.html"), page, Encoding.UTF8);

        await using var tab = await chromium.Browser.NewPageAsync();
        await tab.NavigateAsync($"http://127.0.0.1:{hub.EndPoint.Port}/dashboard.html");
        await tab.WaitForAsync("typeof ws !== 'undefined' && ws.readyState === WebSocket.OPEN && typeof window.fireMinuteTimer === 'function'");
        // Open on the client is the 101; the server counts the connection once it has joined the channel, so only
        // then is the first broadcast sure to reach it.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (hub.Registry.Get(Guid.Parse(id))!.Stats.Connections != 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "the dashboard's WebSocket never joined the channel");
            await Task.Delay(50);
        }
        await tab.EvaluateAsync("window.fireMinuteTimer()");
        await tab.WaitForAsync("document.getElementById('metrics').textContent.includes('15420')");

        var shown = JsonDocument.Parse((await tab.EvaluateAsync("document.getElementById('metrics').textContent")).GetString()!).RootElement;
        Assert.Equal(15420, shown.GetProperty("sales_today").GetInt32());
        Assert.Equal(3.2, shown.GetProperty("conversion_rate").GetDouble());
        Assert.Equal(1, hub.Registry.Get(Guid.Parse(id))!.Stats.MessagesSent);
        Assert.DoesNotContain(tab.ConsoleMessages, m => m.StartsWith("exception:", StringComparison.Ordinal) || m.StartsWith("error:", StringComparison.Ordinal));
    }

    [GeneratedRegex(@"```javascript\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex JavaScriptBlock();
}
