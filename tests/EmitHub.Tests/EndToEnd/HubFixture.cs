using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using EmitHub.Core.Channels;
using EmitHub.Core.Configuration;
using EmitHub.Core.Storage;
using EmitHub.Net.Server;
using EmitHub.Net.WebSockets;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmitHub.Tests.EndToEnd;

/// <summary>A real HubServer on 127.0.0.1 and a free port, with an in-memory store, plus client helpers.</summary>
public sealed class Hub : IAsyncDisposable
{
    private Hub(HubServer server, ChannelRegistry registry, LiveOptions options)
    {
        Server = server;
        Registry = registry;
        Options = options;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.LocalEndPoint.Port}") };
    }

    public HubServer Server { get; }
    public ChannelRegistry Registry { get; }
    public LiveOptions Options { get; }
    public HttpClient Http { get; }
    public int Port => Server.LocalEndPoint.Port;

    public static async Task<Hub> StartAsync(Action<EmitHubOptions>? configure = null, IChannelStore? store = null)
    {
        var options = new EmitHubOptions { Port = 0 };
        configure?.Invoke(options);
        var live = new LiveOptions(options);
        var registry = new ChannelRegistry(live, store ?? new InMemoryChannelStore(), WebSocketFrameEncoder.Instance,
            TimeProvider.System, NullLogger<ChannelRegistry>.Instance);
        await registry.InitializeAsync(CancellationToken.None);
        var server = new HubServer(live, registry, NullLoggerFactory.Instance, TimeProvider.System);
        await server.StartAsync(CancellationToken.None);
        return new Hub(server, registry, live);
    }

    public async Task<string> CreateActiveChannelAsync(string body = """{"name":"Sistema de Turnos","settings":{"rate_limit_per_minute":0}}""")
    {
        var created = await Http.PostAsync("/api/v1/channels", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        var started = await Http.PutAsync($"/api/v1/channels/{id}/start", null);
        Assert.Equal(HttpStatusCode.OK, started.StatusCode);
        return id;
    }

    public async Task<JsonElement> BroadcastAsync(string id, string content)
    {
        var response = await Http.PostAsync($"/api/v1/channels/{id}/broadcast",
            new StringContent(JsonSerializer.Serialize(new Dictionary<string, string> { ["content"] = content, ["message_type"] = "Broadcast" }, TestJson.Default.DictionaryStringString),
                Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    public Uri WsUri(string id, string query = "") => new($"ws://127.0.0.1:{Port}/api/v1/channels/{id}/ws{query}");

    public async Task<ClientWebSocket> ConnectAsync(string id, string query = "")
    {
        var ws = new ClientWebSocket();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await ws.ConnectAsync(WsUri(id, query), cts.Token);
        return ws;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        await Registry.DisposeAsync();
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
