using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using EmitHub.Net.WebSockets;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.EndToEnd;

/// <summary>Channel and WebSocket helpers for end-to-end tests on <see cref="TestHubServer"/>.</summary>
public static class TestHubServerChannelExtensions
{
    public static async Task<string> CreateActiveChannelAsync(this TestHubServer hub,
        string body = """{"name":"Sistema de Turnos","settings":{"rate_limit_per_minute":0}}""")
    {
        var created = await hub.Client.PostAsync("/api/v1/channels", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        var started = await hub.Client.PutAsync($"/api/v1/channels/{id}/start", null);
        Assert.Equal(HttpStatusCode.OK, started.StatusCode);
        return id;
    }

    public static async Task<JsonElement> BroadcastAsync(this TestHubServer hub, string id, string content)
    {
        var body = JsonSerializer.Serialize(new Dictionary<string, string> { ["content"] = content, ["message_type"] = "Broadcast" }, TestJson.Default.DictionaryStringString);
        var response = await hub.Client.PostAsync($"/api/v1/channels/{id}/broadcast", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    public static async Task<ClientWebSocket> ConnectAsync(this TestHubServer hub, string id, string query = "")
    {
        var ws = new ClientWebSocket();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{hub.EndPoint.Port}/api/v1/channels/{id}/ws{query}"), cts.Token);
        return ws;
    }

    /// <summary>Connects to channel <paramref name="id"/>, reads the <c>connected</c> envelope, and returns the client
    /// with the server's <see cref="WebSocketConnection"/> for it (through <c>AcceptedForTests</c>). The hook runs
    /// just after the 101 is flushed, so only the <c>connected</c> envelope proves it ran.</summary>
    internal static async Task<(ClientWebSocket Client, WebSocketConnection Accepted)> ConnectAcceptedAsync(this TestHubServer hub, string id)
    {
        var endpoint = Assert.IsType<WebSocketEndpoint>(hub.Server.WebSocketUpgrade);
        WebSocketConnection? accepted = null;
        endpoint.AcceptedForTests = w => accepted = w;
        var client = await hub.ConnectAsync(id);
        Assert.Equal("connected", (await client.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());
        endpoint.AcceptedForTests = null;
        Assert.NotNull(accepted);
        return (client, accepted);
    }

    /// <summary>The connection's send count once it reached <paramref name="atLeast"/> (or after 5 s): the count goes up
    /// when a send completes on the server, which can be a moment after the client already read the bytes.</summary>
    internal static async Task<int> SendsAfterAsync(this WebSocketConnection connection, int atLeast)
    {
        for (var i = 0; i < 500 && connection.SendsForTests < atLeast; i++)
        {
            await Task.Delay(10);
        }
        return connection.SendsForTests;
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class TestJson : System.Text.Json.Serialization.JsonSerializerContext;

public static class WebSocketClientExtensions
{
    /// <summary>Receives one whole text message (or null when the server closed), within 10 s.</summary>
    public static async Task<JsonElement?> ReceiveEnvelopeAsync(this ClientWebSocket ws, int timeoutSeconds = 10)
    {
        var text = await ws.ReceiveTextAsync(timeoutSeconds);
        return text is null ? null : JsonDocument.Parse(text).RootElement.Clone();
    }

    public static async Task<string?> ReceiveTextAsync(this ClientWebSocket ws, int timeoutSeconds = 10)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await ws.ReceiveAsync(buffer, cts.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return Encoding.UTF8.GetString(message.ToArray());
            }
        }
    }
}
