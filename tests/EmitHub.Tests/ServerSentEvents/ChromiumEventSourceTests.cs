using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.ServerSentEvents;

/// <summary>A real browser's <c>EventSource</c> (headless Chromium, installed by <c>make test-deps</c>) receives a
/// broadcast from <c>/api/v1/channels/{id}/events</c>, cross-origin, with the id it will resend as Last-Event-ID.</summary>
public class ChromiumEventSourceTests
{
    [Fact]
    public async Task Chromium_EventSource_receives_a_broadcast()
    {
        // The page is a file: URL, whose origin is "null": allowed only by "*".
        await using var hub = await TestHubServer.StartAsync(o => o.Cors.AllowedOrigins = ["*"]);
        var id = await hub.CreateActiveChannelAsync();
        var directory = Directory.CreateTempSubdirectory("emithub-sse-");
        try
        {
            var page = Path.Combine(directory.FullName, "page.html");
            await File.WriteAllTextAsync(page, $$"""
                <html><body>waiting<script>
                const base = 'http://127.0.0.1:{{hub.EndPoint.Port}}/api/v1/channels/{{id}}';
                const es = new EventSource(base + '/events');
                es.addEventListener('connected', () => fetch(base + '/broadcast', {method: 'POST',
                  headers: {'Content-Type': 'application/json'}, body: JSON.stringify({content: 'A004'})}));
                es.addEventListener('broadcast', (e) => {
                  document.body.textContent = 'GOT ' + JSON.parse(e.data).message + ' id=' + e.lastEventId; es.close(); });
                </script></body></html>
                """);
            using var chromium = ClientProcess.Start("chromium", "--headless", "--no-sandbox", "--disable-gpu",
                $"--user-data-dir={Path.Combine(directory.FullName, "profile")}", "--virtual-time-budget=15000", "--dump-dom", "file://" + page);
            await chromium.WaitForAsync("GOT A004 id=1");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
