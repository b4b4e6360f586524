using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Metrics;

/// <summary>A parsed <c>GET /metrics</c> answer: sample values by <c>name</c> or <c>name{labels}</c> exactly as
/// written on the line, plus the raw text.</summary>
public sealed class MetricsScrape
{
    private readonly Dictionary<string, double> _samples;

    private MetricsScrape(string text, Dictionary<string, double> samples)
    {
        Text = text;
        _samples = samples;
    }

    public string Text { get; }

    /// <summary>The sample's value; fails the test when the series is missing.</summary>
    public double this[string series] =>
        _samples.TryGetValue(series, out var value) ? value : throw new Xunit.Sdk.XunitException($"No series {series} in:\n{Text}");

    public bool Has(string series) => _samples.ContainsKey(series);

    public static MetricsScrape Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            var space = line.LastIndexOf(' ');
            var value = line[(space + 1)..] switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                var v => double.Parse(v, CultureInfo.InvariantCulture),
            };
            samples.Add(line[..space], value);
        }
        return new MetricsScrape(text, samples);
    }

    public static async Task<MetricsScrape> GetAsync(TestHubServer hub, string? bearer = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }
        using var response = await hub.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        return Parse(await response.Content.ReadAsStringAsync());
    }

    /// <summary>Scrapes until <paramref name="done"/> holds (a closing connection is counted once its task ended,
    /// a moment after the client saw the close); fails after 10 s.</summary>
    public static async Task<MetricsScrape> WaitForAsync(TestHubServer hub, Func<MetricsScrape, bool> done, string? bearer = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var scrape = await GetAsync(hub, bearer);
            if (done(scrape))
            {
                return scrape;
            }
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("The expected values never appeared in:\n" + scrape.Text);
            }
            await Task.Delay(50);
        }
    }
}
