using System.Globalization;
using System.Text.Json;
using EmitHub.Tests.Infrastructure;
using EmitHub.Tests.Persistence;
using Xunit.Abstractions;

namespace EmitHub.Tests.Browser;

/// <summary>
/// emithub.js in Chromium across a real restart of an emit-hub process on the same port: the page ends with every
/// message exactly once (<c>?after=</c> + epoch recovery), and many clients come back spread over time (full
/// jitter), not in one burst.
/// </summary>
[Collection(PersistenceProcessCollection.Name)]
public sealed class EmitHubJsRestartTests : PersistenceTestBase, IClassFixture<ChromiumFixture>
{
    private readonly ChromiumFixture _chromium;
    private readonly ITestOutputHelper _output;

    public EmitHubJsRestartTests(ChromiumFixture chromium, ITestOutputHelper output)
        : base(output)
    {
        _chromium = chromium;
        _output = output;
    }

    private static string Page(int port, string body) => $$"""
        <!doctype html><meta charset=utf-8><title>Pantalla</title>
        <script type="module">
        import { EmitHub } from "http://127.0.0.1:{{port}}/client/emithub.js";
        const hub = "http://127.0.0.1:{{port}}";
        {{body}}
        </script>
        """;

    [Fact]
    public async Task A_page_survives_a_restart_and_ends_with_every_message_once()
    {
        await Server.StartAsync();
        var port = Server.Port;
        var id = await Server.CreateActiveChannelAsync("Turnos", persist: true);
        using var pages = new TestPageServer();
        var url = pages.Add("/pantalla.html", Page(port, $$"""
            window.received = [];
            window.statuses = [];
            window.sub = EmitHub.subscribe(hub, "{{id}}", {
              onMessage: (e) => window.received.push(e.sequence + ":" + e.message),
              onStatus: (s) => window.statuses.push(s),
              baseDelayMs: 2000,
              maxDelayMs: 4000,
            });
            """));
        await using var page = await _chromium.Browser.NewPageAsync();
        await page.NavigateAsync(url);
        await page.WaitForAsync("window.sub && window.sub.status.connection === 'connected'");

        for (var i = 1; i <= 3; i++)
        {
            await Server.BroadcastAsync(id, $"m{i}");
        }
        await page.WaitForAsync("window.received.length === 3");

        Assert.Equal(0, await Server.StopAsync());
        await page.WaitForAsync("window.sub.status.connection !== 'connected'");
        await Server.StartAsync(port: port);
        // Sent while the page is (most likely) still waiting to reconnect: they reach it through ?after= recovery.
        for (var i = 4; i <= 6; i++)
        {
            await Server.BroadcastAsync(id, $"m{i}");
        }
        await page.WaitForAsync("window.statuses.filter(s => s.connection === 'connected').length >= 2", TimeSpan.FromSeconds(60));
        for (var i = 7; i <= 9; i++)
        {
            await Server.BroadcastAsync(id, $"m{i}");
        }
        await page.WaitForAsync("window.received.length >= 9");
        await Task.Delay(500);

        var received = (await page.EvaluateAsync("window.received")).EnumerateArray().Select(e => e.GetString()).ToArray();
        Assert.Equal(Enumerable.Range(1, 9).Select(i => $"{i}:m{i}"), received);
        var reconnected = (await page.EvaluateAsync("window.statuses.filter(s => s.connection === 'connected')[1]"));
        Assert.True(reconnected.GetProperty("recovered").GetBoolean());
        Assert.Equal(9, (await page.EvaluateAsync("window.sub.lastSequence")).GetInt32());
    }

    [Fact]
    public async Task Two_hundred_clients_in_one_page_reconnect_spread_over_time_not_at_once()
    {
        const int clients = 200;
        await Server.StartAsync();
        var port = Server.Port;
        var id = await Server.CreateActiveChannelAsync("Pantallas", persist: false);
        using var pages = new TestPageServer();
        var url = pages.Add("/muro.html", Page(port, $$"""
            window.connectedAt = [];
            window.subs = [];
            for (let i = 0; i < {{clients}}; i++) {
              window.connectedAt.push([]);
              window.subs.push(EmitHub.subscribe(hub, "{{id}}", {
                onStatus: (s) => { if (s.connection === "connected") window.connectedAt[i].push(performance.now()); },
              }));
            }
            """));
        await using var page = await _chromium.Browser.NewPageAsync();
        await page.NavigateAsync(url);
        await page.WaitForAsync("window.connectedAt.every(c => c.length === 1)", TimeSpan.FromSeconds(60));

        Assert.Equal(0, await Server.StopAsync());
        var stoppedAt = (await page.EvaluateAsync("performance.now()")).GetDouble();
        await Server.StartAsync(port: port);
        await page.WaitForAsync("window.connectedAt.every(c => c.length === 2)", TimeSpan.FromSeconds(90));

        var times = (await page.EvaluateAsync("window.connectedAt.map(c => c[1])")).EnumerateArray()
            .Select(t => t.GetDouble() - stoppedAt).Order().ToArray();
        var spread = times[^1] - times[0];
        var busiest = 0;
        for (int i = 0, j = 0; i < times.Length; i++)
        {
            while (times[i] - times[j] > 100)
            {
                j++;
            }
            busiest = Math.Max(busiest, i - j + 1);
        }
        _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{clients} clients reconnected between {times[0]:0} and {times[^1]:0} ms after the stop; spread {spread:0} ms; " +
            $"p10 {times[clients / 10]:0} ms, p50 {times[clients / 2]:0} ms, p90 {times[clients * 9 / 10]:0} ms; busiest 100 ms window: {busiest} clients"));

        // Full jitter: the reconnects are spread over seconds, and no 100 ms holds even half of them.
        Assert.True(spread >= 1000, $"reconnects spread over only {spread:0} ms");
        Assert.True(busiest <= clients / 2, $"{busiest} of {clients} clients reconnected within one 100 ms window");
        await page.EvaluateAsync("window.subs.forEach(s => s.close()), true");
    }
}
