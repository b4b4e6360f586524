using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.EndToEnd;

/// <summary>The seed's own client examples, unchanged, against the real server: Python (python3-websockets, Debian)
/// and the browser JavaScript under Node's <c>ws</c> package. <c>make test</c> installs both.</summary>
public class SeedClientTests
{
    private const string QuickStartBody = """
        {
          "name": "Sistema de Turnos",
          "description": "Canal para llamar turnos en clínica",
          "settings": {
            "max_connections": 100,
            "allow_client_messages": true,
            "persist_messages": false,
            "rate_limit_per_minute": 30
          }
        }
        """;

    [Fact]
    public async Task The_seed_python_client_prints_the_called_turn()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync(QuickStartBody);
        using var python = ClientProcess.Start("/usr/bin/python3", "seed_python_client.py", $"http://localhost:{hub.EndPoint.Port}", id);
        await python.WaitForAsync($"✅ Conectado al canal: {id}");

        await hub.BroadcastAsync(id, "A004");

        await python.WaitForAsync("🎯 Turno llamado: A004");
    }

    [Fact]
    public async Task The_seed_browser_client_under_node_receives_the_turn_and_its_own_client_message()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync(QuickStartBody);
        using var node = ClientProcess.Start("node", "seed_js_client.js", id, hub.EndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "Cliente conectado desde sala de espera");
        await node.WaitForAsync("🟢 Conectado al canal");
        await node.WaitForAsync("\"status\":\"client_message\"");

        await hub.BroadcastAsync(id, "A004");

        await node.WaitForAsync("🎯 Turno llamado: A004");
        Assert.Contains("Client message in Sistema de Turnos: Cliente conectado desde sala de espera", node.Output);

        await hub.Client.PutAsync($"/api/v1/channels/{id}/stop", null);
        await node.WaitForAsync("closed 1001 true");
    }
}
