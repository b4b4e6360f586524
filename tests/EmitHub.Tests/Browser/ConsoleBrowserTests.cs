using System.Net;
using System.Text.Json;
using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Browser;

/// <summary>
/// The admin console (<c>/console</c>) in Chromium against the real hub with an API key: a whole channel life by
/// mouse, the same by keyboard only, and the layout at 1280 and 390 px.
/// </summary>
public class ConsoleBrowserTests : IClassFixture<ChromiumFixture>
{
    private const string ApiKey = "console-test-key";
    private readonly ChromiumFixture _chromium;

    public ConsoleBrowserTests(ChromiumFixture chromium) => _chromium = chromium;

    private static Task<TestHubServer> StartHubAsync() => TestHubServer.StartAsync(o =>
    {
        o.ApiKey = ApiKey;
        o.Auth.TokenSecret = "console-test-secret-of-32-characters!";
    });

    private async Task<(ChromiumPage Page, ConsolePageDriver Driver)> OpenConsoleAsync(TestHubServer hub, int width = 1280, int height = 900, bool mobile = false)
    {
        var page = await _chromium.Browser.NewPageAsync();
        await page.SetViewportAsync(width, height, mobile);
        await page.NavigateAsync($"http://127.0.0.1:{hub.EndPoint.Port}/console");
        await page.WaitForAsync("window.emithubConsoleReady === true");
        return (page, new ConsolePageDriver(page));
    }

    private static async Task<JsonElement> ChannelAsync(TestHubServer hub, string name)
    {
        var list = await hub.Client.SendAsync(TestHubServer.Request(HttpMethod.Get, "/api/v1/channels", bearer: ApiKey));
        return JsonDocument.Parse(await list.Content.ReadAsStringAsync()).RootElement.EnumerateArray()
            .FirstOrDefault(c => c.GetProperty("name").GetString() == name);
    }

    [Fact]
    public async Task The_console_creates_starts_broadcasts_pauses_stops_and_deletes_a_channel_and_the_live_view_shows_the_message()
    {
        await using var hub = await StartHubAsync();
        var (page, ui) = await OpenConsoleAsync(hub);
        await using var _ = page;

        await ui.FillAsync("api-key", ApiKey);
        await ui.ClickAsync("key-save");
        await ui.WaitForTextAsync("notice", "API key set");

        await ui.FillAsync("create-name", "Consultorio Dr. García");
        await ui.ClickAsync("create-persist");
        await ui.ClickAsync("create-submit");
        await ui.WaitForTextAsync("notice", "Created channel Consultorio Dr. García");
        var created = await ChannelAsync(hub, "Consultorio Dr. García");
        Assert.Equal("Created", created.GetProperty("status").GetString());
        Assert.True(created.GetProperty("settings").GetProperty("persist_messages").GetBoolean());
        var id = created.GetProperty("id").GetString()!;

        await ui.ClickAsync("btn-start");
        await ui.WaitForTextAsync("detail-status", "Active");
        await page.WaitForAsync("document.getElementById('live-status').textContent.startsWith('connected')", TimeSpan.FromSeconds(30));
        // The channel list shows the live view's own connection (polled every 2 s).
        await ui.WaitForTextAsync("detail-connections", "1 connected");

        await ui.FillAsync("broadcast-content", "A004");
        await ui.FillAsync("broadcast-data", """{"room": "3"}""");
        await ui.ClickAsync("broadcast-submit");
        await ui.WaitForTextAsync("notice", "Broadcast #1 sent to 1 connection(s)");
        await ui.WaitForTextAsync("live-log", "A004");
        Assert.Contains("\"room\":\"3\"", await ui.TextAsync("live-log"));

        await ui.ClickAsync("history-load");
        await ui.WaitForTextAsync("history-log", "A004");

        await ui.ClickAsync("btn-pause");
        await ui.WaitForTextAsync("detail-status", "Paused");
        await page.WaitForAsync("document.getElementById('live-status').textContent.includes('Paused')");
        Assert.Equal("Paused", (await ChannelAsync(hub, "Consultorio Dr. García")).GetProperty("status").GetString());

        await ui.ClickAsync("btn-stop");
        await ui.WaitForTextAsync("detail-status", "Stopped");
        Assert.Equal("Stopped", (await ChannelAsync(hub, "Consultorio Dr. García")).GetProperty("status").GetString());

        await ui.ClickAsync("btn-delete");
        await ui.ClickAsync("btn-delete-confirm");
        await ui.WaitForTextAsync("notice", "Deleted channel Consultorio Dr. García");
        var gone = await hub.Client.SendAsync(TestHubServer.Request(HttpMethod.Get, $"/api/v1/channels/{id}", bearer: ApiKey));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.DoesNotContain(page.ConsoleMessages, line => line.StartsWith("exception:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_same_run_works_with_the_keyboard_only()
    {
        await using var hub = await StartHubAsync();
        var (page, ui) = await OpenConsoleAsync(hub);
        await using var _ = page;

        await ui.TabToAsync("api-key");
        await ui.TypeAsync(ApiKey);
        await ui.PressAsync("Enter");
        await ui.WaitForTextAsync("notice", "API key set");

        await ui.TabToAsync("create-name");
        await ui.TypeAsync("Alertas IT");
        await ui.TabToAsync("create-private");
        await ui.PressAsync(" ");
        await ui.TabToAsync("create-submit");
        await ui.PressAsync("Enter");
        await ui.WaitForTextAsync("notice", "Created channel Alertas IT");
        var created = await ChannelAsync(hub, "Alertas IT");
        Assert.True(created.GetProperty("settings").GetProperty("private").GetBoolean());
        // After creating, the focus moves to Start.
        await page.WaitForAsync("document.activeElement.id === 'btn-start'");
        await ui.PressAsync("Enter");
        await ui.WaitForTextAsync("detail-status", "Active");
        // A private channel: the live view connects with a token the console mints for itself.
        await page.WaitForAsync("document.getElementById('live-status').textContent.startsWith('connected')", TimeSpan.FromSeconds(30));

        await ui.TabToAsync("broadcast-content");
        await ui.TypeAsync("Servidor principal caído");
        await ui.PressAsync("Enter");
        await ui.WaitForTextAsync("live-log", "Servidor principal caído");

        await ui.TabToAsync("token-sub");
        await ui.TypeAsync("pantalla-1");
        await ui.TabToAsync("token-submit");
        await ui.PressAsync(" ");
        await page.WaitForAsync("document.getElementById('token-output').value.split('.').length === 3");
        var token = (await page.EvaluateAsync("document.getElementById('token-output').value")).GetString()!;
        using (var ws = new System.Net.WebSockets.ClientWebSocket())
        {
            ws.Options.AddSubProtocol("emithub.token");
            ws.Options.AddSubProtocol(token);
            await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{hub.EndPoint.Port}/api/v1/channels/{created.GetProperty("id").GetString()}/ws"), CancellationToken.None);
            Assert.Equal("connected", (await ws.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());
        }

        await ui.TabToAsync("btn-pause");
        await ui.PressAsync("Enter");
        await ui.WaitForTextAsync("detail-status", "Paused");
        await ui.TabToAsync("btn-stop");
        await ui.PressAsync(" ");
        await ui.WaitForTextAsync("detail-status", "Stopped");
        await ui.TabToAsync("btn-delete");
        await ui.PressAsync("Enter");
        // The confirmation takes the focus, on Cancel (the safe choice); Shift+Tab reaches "Yes, delete".
        await page.WaitForAsync("document.activeElement.id === 'btn-delete-cancel'");
        await ui.PressAsync("Tab", shift: true);
        Assert.Equal("btn-delete-confirm", await ui.FocusedIdAsync());
        await ui.PressAsync("Enter");
        await ui.WaitForTextAsync("notice", "Deleted channel Alertas IT");
        Assert.Equal(JsonValueKind.Undefined, (await ChannelAsync(hub, "Alertas IT")).ValueKind);
        Assert.DoesNotContain(page.ConsoleMessages, line => line.StartsWith("exception:", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(1280, 900, false)]
    [InlineData(390, 844, true)]
    public async Task The_console_fits_the_screen_at_desktop_and_phone_widths(int width, int height, bool mobile)
    {
        await using var hub = await StartHubAsync();
        foreach (var name in new[] { "Sistema de Turnos", "Consultorio Dr. García — cardiología, planta 2", "Game Events" })
        {
            var response = await hub.Client.SendAsync(TestHubServer.Request(HttpMethod.Post, "/api/v1/channels",
                $$$"""{"name":"{{{name}}}","settings":{"persist_messages":true}}""", bearer: ApiKey));
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }
        var first = (await ChannelAsync(hub, "Sistema de Turnos")).GetProperty("id").GetString()!;
        await hub.Client.SendAsync(TestHubServer.Request(HttpMethod.Put, $"/api/v1/channels/{first}/start", bearer: ApiKey));

        var (page, ui) = await OpenConsoleAsync(hub, width, height, mobile);
        await using var _ = page;
        await ui.FillAsync("api-key", ApiKey);
        await ui.PressAsync("Enter");
        await page.WaitForAsync("document.querySelectorAll('#channel-list button').length === 3");
        await page.EvaluateAsync($"document.querySelector('#channel-list button[data-id=\"{first}\"]').click(), true");
        await page.WaitForAsync("document.getElementById('live-status').textContent.startsWith('connected')", TimeSpan.FromSeconds(30));
        await hub.Client.SendAsync(TestHubServer.Request(HttpMethod.Post, $"/api/v1/channels/{first}/broadcast",
            """{"content":"A004","data":{"room":"3"}}""", bearer: ApiKey));
        await ui.WaitForTextAsync("live-log", "A004");
        // Counts follow a message within a moment (and every 2 s anyway).
        await ui.WaitForTextAsync("detail-sent", "1 sent");
        await ui.WaitForTextAsync("detail-connections", "1 connected");
        await page.EvaluateAsync("window.scrollTo(0, 0), true");

        // Nothing wider than the viewport: no sideways scrolling on a phone.
        var scrollWidth = (await page.EvaluateAsync("document.documentElement.scrollWidth")).GetInt32();
        Assert.True(scrollWidth <= width, $"page is {scrollWidth} px wide in a {width} px viewport");
        // Every control has an accessible name (a label, aria-label or its text).
        var unnamed = (await page.EvaluateAsync("""
            [...document.querySelectorAll('input, textarea, button')].filter(e => e.offsetParent !== null)
              .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim()).map(e => e.id)
            """)).EnumerateArray().Select(e => e.GetString()).ToArray();
        Assert.Empty(unnamed);

        var png = await page.ScreenshotAsync(fullPage: true);
        var path = Path.Combine(ChromiumFixture.ScreenshotDirectory, $"console-{width}.png");
        await File.WriteAllBytesAsync(path, png);
        Assert.True(png.Length > 10_000);
    }
}
