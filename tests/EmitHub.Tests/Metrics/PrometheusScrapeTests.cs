using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Metrics;

/// <summary>
/// A real Prometheus (Debian's <c>prometheus</c> package, installed by <c>make test-deps</c>) scrapes the hub's
/// <c>/metrics</c> with the API key as its bearer token, and its query API returns what the hub counted;
/// <c>promtool check metrics</c> finds nothing to lint in the exposition.
/// </summary>
public class PrometheusScrapeTests
{
    private const string PrometheusPath = "/usr/bin/prometheus";
    private const string PromtoolPath = "/usr/bin/promtool";

    [Fact]
    public async Task Promtool_check_metrics_is_clean_on_the_exposition()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        using var ws = await hub.ConnectAsync(id);
        await ws.ReceiveEnvelopeAsync();
        await hub.BroadcastAsync(id, "A004");
        var scrape = await MetricsScrape.GetAsync(hub);

        var (exit, output) = await RunAsync(PromtoolPath, ["check", "metrics"], stdin: scrape.Text);

        Assert.True(exit == 0 && output.Trim().Length == 0, $"promtool check metrics exited {exit}:\n{output}\n--- exposition ---\n{scrape.Text}");
    }

    [Fact]
    public async Task A_real_prometheus_scrapes_with_the_bearer_token_and_its_query_api_returns_the_broadcast_count()
    {
        Assert.True(File.Exists(PrometheusPath), $"{PrometheusPath} is missing: run 'make test-deps' (installs Debian's prometheus).");
        const string key = "prometheus-scrape-key";
        await using var hub = await TestHubServer.StartAsync(o => o.ApiKey = key);
        var id = await hub.CreateActiveChannelAsync(hub.Client, key);
        for (var i = 0; i < 3; i++)
        {
            using var request = TestHubServer.Request(HttpMethod.Post, $"/api/v1/channels/{id}/broadcast", $$"""{"content":"A00{{i}}"}""", key);
            Assert.Equal(HttpStatusCode.OK, (await hub.Client.SendAsync(request)).StatusCode);
        }

        var dir = Directory.CreateTempSubdirectory("emithub-prometheus-");
        var port = Config.EmitHubProcess.FreePort();
        File.WriteAllText(Path.Combine(dir.FullName, "prometheus.yml"), $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: emithub
                scrape_interval: 1s
                scrape_timeout: 1s
                authorization:
                  credentials: {key}
                static_configs:
                  - targets: ['127.0.0.1:{hub.EndPoint.Port}']
            """);
        using var prometheus = Process.Start(new ProcessStartInfo(PrometheusPath)
        {
            ArgumentList =
            {
                "--config.file=" + Path.Combine(dir.FullName, "prometheus.yml"),
                "--storage.tsdb.path=" + Path.Combine(dir.FullName, "data"),
                $"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var log = new System.Text.StringBuilder();
        prometheus.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        prometheus.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        prometheus.BeginErrorReadLine();
        prometheus.BeginOutputReadLine();
        try
        {
            using var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            // Liveness bound, not a timing assertion: Prometheus starts, scrapes every second, and the query sees it.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            string last = "";
            while (DateTime.UtcNow < deadline && !prometheus.HasExited)
            {
                last = await QueryAsync(api, "emithub_broadcasts_total") ?? last;
                if (last == "3")
                {
                    break;
                }
                await Task.Delay(250);
            }
            Assert.True(last == "3", $"Prometheus never returned emithub_broadcasts_total 3 (last '{last}'). Its log:\n{log}");
            Assert.Equal("1", await QueryAsync(api, "up{job=\"emithub\"}"));
            Assert.Equal("1", await QueryAsync(api, "emithub_channels{status=\"Active\"}"));
            Assert.Equal("3", await QueryAsync(api, "emithub_publish_duration_seconds_count"));
        }
        finally
        {
            prometheus.Kill(entireProcessTree: true);
            await prometheus.WaitForExitAsync();
            dir.Delete(recursive: true);
        }
    }

    /// <summary>The value of the first sample of an instant query, or null while there is none (or the API is not up yet).</summary>
    private static async Task<string?> QueryAsync(HttpClient api, string query)
    {
        try
        {
            var body = await api.GetStringAsync("/api/v1/query?query=" + Uri.EscapeDataString(query));
            var result = JsonDocument.Parse(body).RootElement.GetProperty("data").GetProperty("result");
            return result.GetArrayLength() == 0 ? null : result[0].GetProperty("value")[1].GetString();
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    private static async Task<(int Exit, string Output)> RunAsync(string file, string[] args, string stdin)
    {
        Assert.True(File.Exists(file), $"{file} is missing: run 'make test-deps' (installs Debian's prometheus, which ships promtool).");
        var (exit, stdout, stderr) = await ProcessRun.RunAsync(file, args, TimeSpan.FromSeconds(60), stdin);
        return (exit, stdout + stderr);
    }
}

internal static class AuthorizedChannelExtensions
{
    /// <summary>Creates and starts a channel on a hub that needs <paramref name="key"/>.</summary>
    public static async Task<string> CreateActiveChannelAsync(this TestHubServer hub, HttpClient client, string key)
    {
        using var create = TestHubServer.Request(HttpMethod.Post, "/api/v1/channels", """{"name":"Turnos","settings":{"rate_limit_per_minute":0}}""", key);
        var created = await client.SendAsync(create);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        using var start = TestHubServer.Request(HttpMethod.Put, $"/api/v1/channels/{id}/start", bearer: key);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(start)).StatusCode);
        return id;
    }
}
