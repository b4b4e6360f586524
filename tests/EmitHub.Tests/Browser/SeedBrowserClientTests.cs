using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Browser;

/// <summary>The seed's browser snippet ("4. Conectar Clientes"), as copied by a user, in Debian's Chromium.</summary>
public class SeedBrowserClientTests : IClassFixture<ChromiumFixture>
{
    /// <summary>Verbatim from the seed; only the channel id and the port are the test's.</summary>
    private const string SeedClient = """
        // Cliente JavaScript
        const channelId = '550e8400-e29b-41d4-a716-446655440000';
        const ws = new WebSocket(`ws://localhost:8080/api/v1/channels/${channelId}/ws`);

        ws.onopen = function() {
            console.log('🟢 Conectado al canal');
        };

        ws.onmessage = function(event) {
            const data = JSON.parse(event.data);
            console.log('📨 Mensaje recibido:', data);
            
            if (data.status === 'broadcast') {
                console.log('🎯 Turno llamado:', data.message);
                // Mostrar en pantalla, reproducir sonido, etc.
            }
        };

        ws.onerror = function(error) {
            console.error('❌ Error de conexión:', error);
        };

        // Enviar mensaje (si está permitido)
        ws.send('Cliente conectado desde sala de espera');
        """;

    private readonly ChromiumFixture _chromium;

    public SeedBrowserClientTests(ChromiumFixture chromium) => _chromium = chromium;

    [Fact]
    public async Task The_seed_browser_client_verbatim_receives_a_broadcast()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        using var pages = new TestPageServer();
        var script = SeedClient
            .Replace("550e8400-e29b-41d4-a716-446655440000", id, StringComparison.Ordinal)
            .Replace("localhost:8080", $"127.0.0.1:{hub.EndPoint.Port}", StringComparison.Ordinal);
        var url = pages.Add("/sala.html", $"<!doctype html><meta charset=utf-8><title>Sala</title><script>{script}</script>");

        await using var page = await _chromium.Browser.NewPageAsync();
        await page.NavigateAsync(url);
        await page.WaitForAsync("true");
        await WaitForConsoleAsync(page, "log: 🟢 Conectado al canal");

        await hub.BroadcastAsync(id, "A004");

        await WaitForConsoleAsync(page, "log: 🎯 Turno llamado: A004");
        // The snippet's last line sends while the socket is still CONNECTING, which browsers refuse with an
        // exception; the handlers were set before it, so the client still works (the seed's bug, not the hub's).
        Assert.Contains(page.ConsoleMessages, line => line.StartsWith("exception:", StringComparison.Ordinal) && line.Contains("CONNECTING", StringComparison.Ordinal));
    }

    private static async Task WaitForConsoleAsync(ChromiumPage page, string line)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!page.ConsoleMessages.Contains(line))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Console never showed '{line}'. Console:\n" + string.Join("\n", page.ConsoleMessages));
            }
            await Task.Delay(100);
        }
    }
}
