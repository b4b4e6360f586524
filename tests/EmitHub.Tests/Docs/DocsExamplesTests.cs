using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Docs;

/// <summary>
/// The examples on <c>/docs</c>, copied from the page the server serves: every <c>curl</c> runs in page order with the
/// real curl against the real server and answers 2xx (after a DELETE the examples go on with a new channel;
/// a streaming <c>curl -N</c> runs for a few seconds); the quick-start JavaScript client runs in headless Chromium,
/// sends only once open, and comes back after the clean closes EmitHub sends (stop: 1001, then 1008 while stopped).
/// </summary>
public sealed partial class DocsExamplesTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    private static async Task<List<string>> PreBlocksAsync(TestHubServer hub)
    {
        var html = await hub.Client.GetStringAsync("/docs");
        return PreBlock().Matches(html).Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)).ToList();
    }

    [Fact]
    public async Task Every_curl_on_docs_runs_against_the_real_server_in_page_order()
    {
        // A hub as the page's sections assume: no API key (the page says to add the header when one is set; an unset
        // $EMIT_HUB_API_KEY then sends an empty bearer, which a hub without a key ignores), and a token secret for
        // the minting example.
        await using var hub = await TestHubServer.StartAsync(o => o.Auth.TokenSecret = "docs-example-secret-of-at-least-32-bytes");
        var commands = (await PreBlocksAsync(hub)).SelectMany(CurlCommand.Extract).ToList();
        Assert.True(commands.Count >= 14, $"only {commands.Count} curl commands found on /docs");

        string? channelId = null;
        var statuses = new List<string>();
        foreach (var command in commands)
        {
            var (status, body) = await command.RunAsync(hub.EndPoint.Port, channelId);
            statuses.Add($"{status} {command.Text.Split('\n')[0]}");
            Assert.True(status is >= 200 and < 300, $"{status} {body}\nfor:\n{command}\nafter:\n{string.Join("\n", statuses)}");
            if (status == 201 && channelId == null)
            {
                channelId = JsonDocument.Parse(body).RootElement.GetProperty("id").GetString();
            }
            if (command.Text.Contains("-X DELETE", StringComparison.Ordinal))
            {
                // The examples after a delete mean "your channel": the reader would use another one.
                Assert.Equal(HttpStatusCode.NotFound, (await hub.Client.GetAsync($"/api/v1/channels/{channelId}")).StatusCode);
                channelId = await hub.CreateActiveChannelAsync();
            }
            if (command.IsStream)
            {
                Assert.Contains("event: connected", body);
            }
            if (command.Text.Contains("/messages", StringComparison.Ordinal))
            {
                // The page's history example returns the broadcast it made just before.
                var messages = JsonDocument.Parse(body).RootElement.GetProperty("messages");
                Assert.Equal("A005", messages[messages.GetArrayLength() - 1].GetProperty("message").GetString());
            }
        }
    }

    [Fact]
    public async Task The_quick_start_JavaScript_sends_after_open_and_reconnects_after_clean_closes()
    {
        await using var hub = await TestHubServer.StartAsync();
        var created = await hub.Client.PostAsync("/api/v1/channels",
            new StringContent("""{"name": "Sala de espera", "settings": {"allow_client_messages": true, "rate_limit_per_minute": 0}}""",
                System.Text.Encoding.UTF8, "application/json"));
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await hub.Client.PutAsync($"/api/v1/channels/{id}/start", null)).StatusCode);

        var snippet = (await PreBlocksAsync(hub)).Single(b => b.StartsWith("// Browser or Node 22+", StringComparison.Ordinal));
        var script = LocalhostPort().Replace(snippet, $"127.0.0.1:{hub.EndPoint.Port}").Replace("CHANNEL_ID", id, StringComparison.Ordinal);

        await using var page = await chromium.Browser.NewPageAsync();
        // An allowed origin (the hub's own page), as a display would have.
        await page.NavigateAsync(new Uri(hub.BaseAddress, "/docs").ToString());
        await page.EvaluateAsync(script);

        // Its onopen send arrives as a client message: the page sent only once the socket was open.
        await WaitForAsync(() => hub.Registry.Get(Guid.Parse(id))!.Stats.MessagesSent == 1, "the onopen client message");
        await hub.Client.PostAsync($"/api/v1/channels/{id}/broadcast", Json("""{"content": "A004"}"""));
        await WaitForConsoleAsync(page, "Now serving A004 2");

        // stop: "stopped" then close 1001 (clean); while stopped every attempt is denied and closed 1008 (clean).
        Assert.Equal(HttpStatusCode.OK, (await hub.Client.PutAsync($"/api/v1/channels/{id}/stop", null)).StatusCode);
        await Task.Delay(1500);
        Assert.Equal(HttpStatusCode.OK, (await hub.Client.PutAsync($"/api/v1/channels/{id}/start", null)).StatusCode);
        await WaitForAsync(() => hub.Registry.Get(Guid.Parse(id))!.Stats.Connections == 1, "the reconnection after stop and start");
        await WaitForAsync(() => hub.Registry.Get(Guid.Parse(id))!.Stats.MessagesSent >= 3, "the onopen message of the new socket");
        await hub.Client.PostAsync($"/api/v1/channels/{id}/broadcast", Json("""{"content": "A005"}"""));
        await WaitForConsoleAsync(page, "Now serving A005");
        Assert.DoesNotContain(page.ConsoleMessages, m => m.StartsWith("exception:", StringComparison.Ordinal));
    }

    private static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        // Liveness bound on a loaded machine, not a timing assertion.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for " + what);
            await Task.Delay(50);
        }
    }

    private static Task WaitForConsoleAsync(ChromiumPage page, string text) =>
        WaitForAsync(() => page.ConsoleMessages.Any(m => m.Contains(text, StringComparison.Ordinal)),
            $"console '{text}' (console: {string.Join(" | ", page.ConsoleMessages)})");

    [GeneratedRegex(@"<pre>(.*?)</pre>", RegexOptions.Singleline)]
    private static partial Regex PreBlock();

    [GeneratedRegex(@"\blocalhost:\d+")]
    private static partial Regex LocalhostPort();
}
