using System.Text.RegularExpressions;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Metrics;

/// <summary>/docs and the README stay true to what the operator half exposes: every metric family the server
/// writes is documented, and so are the [tls] keys, their variables and the deploy paths.</summary>
public class OperatorDocsTests
{
    [Fact]
    public async Task Every_metric_family_the_server_exposes_is_listed_on_docs()
    {
        await using var hub = await TestHubServer.StartAsync();
        var exposition = (await MetricsScrape.GetAsync(hub)).Text;
        var html = await hub.Client.GetStringAsync("/docs");

        var families = Regex.Matches(exposition, @"^# TYPE (?<name>\S+) ", RegexOptions.Multiline).Select(m => m.Groups["name"].Value).ToArray();
        Assert.True(families.Length >= 20, exposition);
        foreach (var family in families)
        {
            Assert.Contains(family, html);
        }
    }

    [Fact]
    public async Task Docs_and_readme_have_a_section_each_for_metrics_tls_and_deploy()
    {
        await using var hub = await TestHubServer.StartAsync();
        var html = await hub.Client.GetStringAsync("/docs");
        foreach (var expected in new[]
        {
            "id=\"metrics\"", "id=\"tls\"", "id=\"deploy\"", "GET /metrics", "[tls] cert_path", "[tls] key_path",
            "EMIT_HUB_TLS_CERT_PATH", "EMIT_HUB_TLS_KEY_PATH", "make install", "docker compose up -d", "/api/v1/health",
        })
        {
            Assert.Contains(expected, html);
        }

        var readme = File.ReadAllText(Path.Combine(ClientProcess.ClientsDirectory, "..", "..", "README.md"));
        foreach (var expected in new[] { "\n## Metrics\n", "\n## TLS\n", "\n## Deploy\n", "EMIT_HUB_TLS_CERT_PATH", "make install", "credentials:" })
        {
            Assert.Contains(expected, readme);
        }
    }
}
