using System.Text.Json;
using System.Text.RegularExpressions;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.EndToEnd;

/// <summary>
/// Every <c>curl</c> of the seed's "Inicio Rápido" and "Casos de Uso" (a copy of the user's document is kept in
/// <c>tests/clients/seed/emit-hub.es.md</c>), run with the real curl against the real server: as written, with
/// <c>Content-Type: application/json</c> added where the seed leaves it out, and with it removed where the seed
/// has it. Each answer is 2xx, and each broadcast reaches a connected WebSocket client with its exact text.
/// </summary>
public sealed partial class SeedCurlTests
{
    public enum Variant
    {
        Verbatim,
        AllTyped,
        NoneTyped,
    }

    public static string SeedPath => Path.Combine(ClientProcess.ClientsDirectory, "seed", "emit-hub.es.md");

    /// <summary>The bash code blocks of the seed section whose heading contains <paramref name="heading"/>.</summary>
    public static IReadOnlyList<string> BashBlocks(string heading)
    {
        var seed = File.ReadAllText(SeedPath);
        var start = seed.IndexOf("\n## ", StringComparison.Ordinal);
        while (start >= 0 && !seed.AsSpan(start, Math.Min(80, seed.Length - start)).ToString().Split('\n')[1].Contains(heading, StringComparison.Ordinal))
        {
            start = seed.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        }
        Assert.True(start >= 0, $"section '{heading}' not found in {SeedPath}");
        var end = seed.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var section = end < 0 ? seed[start..] : seed[start..end];
        return BashBlock().Matches(section).Select(m => m.Groups[1].Value).ToList();
    }

    [Fact]
    public void The_seed_sections_hold_the_curl_commands_the_issue_counts()
    {
        var quickStart = BashBlocks("Inicio Rápido").SelectMany(CurlCommand.Extract).ToList();
        var useCases = BashBlocks("Casos de Uso").SelectMany(CurlCommand.Extract).ToList();
        Assert.Equal(3, quickStart.Count);
        Assert.Equal(7, useCases.Count);
        // 5 of the 7 use-case commands send a body without Content-Type (curl then sends form-urlencoded).
        Assert.Equal(5, useCases.Count(c => c.HasBody && !c.HasJsonContentType));
    }

    [Theory]
    [InlineData("Inicio Rápido", Variant.Verbatim)]
    [InlineData("Inicio Rápido", Variant.NoneTyped)]
    [InlineData("Casos de Uso", Variant.Verbatim)]
    [InlineData("Casos de Uso", Variant.AllTyped)]
    [InlineData("Casos de Uso", Variant.NoneTyped)]
    public async Task Every_seed_curl_works_as_copied(string section, Variant variant)
    {
        await using var hub = await TestHubServer.StartAsync();
        var ran = 0;
        string? channelId = null;
        var started = false;
        System.Net.WebSockets.ClientWebSocket? display = null;
        try
        {
            foreach (var documented in BashBlocks(section).SelectMany(CurlCommand.Extract))
            {
                var command = variant switch
                {
                    Variant.AllTyped => documented.WithJsonContentType(),
                    Variant.NoneTyped => documented.WithoutContentType(),
                    _ => documented,
                };
                if (command.Content != null)
                {
                    // Two use cases create a channel and broadcast at once; the clinic case shows the step between
                    // ("2. Activar canal"), which the harness takes for them.
                    if (!started)
                    {
                        Assert.Equal(System.Net.HttpStatusCode.OK, (await hub.Client.PutAsync($"/api/v1/channels/{channelId}/start", null)).StatusCode);
                        started = true;
                    }
                    if (display == null)
                    {
                        display = await hub.ConnectAsync(channelId!);
                        Assert.Equal("connected", (await display.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());
                    }
                }

                var (status, body) = await command.RunAsync(hub.EndPoint.Port, channelId);
                Assert.True(status is >= 200 and < 300, $"{status} {body}\nfor:\n{command}");
                ran++;
                var json = JsonDocument.Parse(body).RootElement;
                if (status == 201)
                {
                    channelId = json.GetProperty("id").GetString();
                    started = false;
                    display?.Dispose();
                    display = null;
                }
                if (command.Text.Contains("/start", StringComparison.Ordinal))
                {
                    started = true;
                }
                if (command.Content is { } content)
                {
                    Assert.Equal(1, json.GetProperty("recipients").GetInt32());
                    var envelope = (await display!.ReceiveEnvelopeAsync())!.Value;
                    Assert.Equal("broadcast", envelope.GetProperty("status").GetString());
                    Assert.Equal(content, envelope.GetProperty("message").GetString());
                    Assert.Equal(channelId, envelope.GetProperty("channel_id").GetString());
                }
            }
        }
        finally
        {
            display?.Dispose();
        }
        Assert.Equal(section == "Inicio Rápido" ? 3 : 7, ran);
    }

    [GeneratedRegex(@"```bash\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex BashBlock();
}
