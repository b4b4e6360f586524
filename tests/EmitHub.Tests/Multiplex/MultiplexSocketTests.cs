using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using EmitHub.Tests.Auth;
using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Multiplex;

/// <summary>
/// <c>GET /api/v1/ws</c> end to end: one WebSocket subscribed to several channels, each with the WebSocket's own
/// semantics (connected, denied, paused, stopped, recovery with after), every envelope tagged with its channel_id,
/// and a refusal or end of one channel never closing the socket.
/// </summary>
public class MultiplexSocketTests
{
    private static async Task<ClientWebSocket> ConnectAsync(TestHubServer hub)
    {
        var ws = new ClientWebSocket();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{hub.EndPoint.Port}/api/v1/ws"), cts.Token);
        return ws;
    }

    private static Task SendAsync(ClientWebSocket ws, string json) =>
        ws.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, CancellationToken.None);

    private static Task SubscribeAsync(ClientWebSocket ws, string channel, string extra = "") =>
        SendAsync(ws, $"{{\"op\":\"subscribe\",\"channel\":\"{channel}\"{extra}}}");

    private static async Task<(string Status, string? Channel, JsonElement Envelope)> NextAsync(ClientWebSocket ws)
    {
        var envelope = await ws.ReceiveEnvelopeAsync();
        Assert.NotNull(envelope);
        var channel = envelope.Value.GetProperty("channel_id");
        return (envelope.Value.GetProperty("status").GetString()!, channel.ValueKind == JsonValueKind.Null ? null : channel.GetString(), envelope.Value);
    }

    private static (string Status, string? Channel) Head((string Status, string? Channel, JsonElement Envelope) e) => (e.Status, e.Channel);

    [Fact]
    public async Task One_socket_on_three_channels_in_different_states_gets_each_channels_envelopes_and_stays_open()
    {
        await using var hub = await TestHubServer.StartAsync();
        var active = await hub.CreateActiveChannelAsync();
        var pausing = await hub.CreateActiveChannelAsync();
        var created = JsonDocument.Parse(await (await hub.Client.PostAsync("/api/v1/channels",
            new StringContent("""{"name":"Nunca activo"}""", Encoding.UTF8, "application/json"))).Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        using var ws = await ConnectAsync(hub);

        await SubscribeAsync(ws, active);
        Assert.Equal(("connected", active), Head(await NextAsync(ws)));
        await SubscribeAsync(ws, pausing);
        Assert.Equal(("connected", pausing), Head(await NextAsync(ws)));
        await SubscribeAsync(ws, created);
        var denied = await NextAsync(ws);
        Assert.Equal(("denied", created), Head(denied));
        Assert.Equal("Channel Nunca activo is not active", denied.Envelope.GetProperty("message").GetString());

        await hub.Client.PutAsync($"/api/v1/channels/{pausing}/pause", null);
        Assert.Equal(("paused", pausing), Head(await NextAsync(ws)));
        await hub.BroadcastAsync(active, "A004");
        var broadcast = await NextAsync(ws);
        Assert.Equal(("broadcast", active), Head(broadcast));
        Assert.Equal("A004", broadcast.Envelope.GetProperty("message").GetString());

        await hub.Client.PutAsync($"/api/v1/channels/{active}/stop", null);
        Assert.Equal(("stopped", active), Head(await NextAsync(ws)));
        await hub.Client.PutAsync($"/api/v1/channels/{pausing}/start", null);
        Assert.Equal(("resumed", pausing), Head(await NextAsync(ws)));
        await hub.BroadcastAsync(pausing, "B001");
        Assert.Equal(("broadcast", pausing), Head(await NextAsync(ws)));
        Assert.Equal(WebSocketState.Open, ws.State);

        // The stopped channel left the socket's set: subscribing again after a start works.
        await hub.Client.PutAsync($"/api/v1/channels/{active}/start", null);
        await SubscribeAsync(ws, active);
        Assert.Equal(("connected", active), Head(await NextAsync(ws)));
    }

    [Fact]
    public async Task Unsubscribe_stops_a_channels_messages_only()
    {
        await using var hub = await TestHubServer.StartAsync();
        var a = await hub.CreateActiveChannelAsync();
        var b = await hub.CreateActiveChannelAsync();
        using var ws = await ConnectAsync(hub);
        await SubscribeAsync(ws, a);
        await NextAsync(ws);
        await SubscribeAsync(ws, b);
        await NextAsync(ws);

        await SendAsync(ws, $"{{\"op\":\"unsubscribe\",\"channel\":\"{a}\"}}");
        Assert.Equal(("unsubscribed", a), Head(await NextAsync(ws)));
        var ackA = await hub.BroadcastAsync(a, "not for you");
        Assert.Equal(0, ackA.GetProperty("recipients").GetInt32());
        await hub.BroadcastAsync(b, "for you");
        var next = await NextAsync(ws);
        Assert.Equal(("broadcast", b), Head(next));
        Assert.Equal("for you", next.Envelope.GetProperty("message").GetString());

        await SendAsync(ws, $"{{\"op\":\"unsubscribe\",\"channel\":\"{a}\"}}");
        var error = await NextAsync(ws);
        Assert.Equal(("error", a), Head(error));
        Assert.Contains("Not subscribed", error.Envelope.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Subscribe_with_after_recovers_the_missed_messages_then_live_ones()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync("""{"name":"Historial","settings":{"persist_messages":true,"rate_limit_per_minute":0}}""");
        for (var i = 1; i <= 5; i++)
        {
            await hub.BroadcastAsync(id, $"A00{i}");
        }
        using var ws = await ConnectAsync(hub);
        await SubscribeAsync(ws, id, ",\"after\":3");
        var connected = await NextAsync(ws);
        Assert.True(connected.Envelope.GetProperty("data").GetProperty("recovered").GetBoolean());
        Assert.Equal(4, (await NextAsync(ws)).Envelope.GetProperty("sequence").GetInt64());
        Assert.Equal(5, (await NextAsync(ws)).Envelope.GetProperty("sequence").GetInt64());
        await hub.BroadcastAsync(id, "A006");
        Assert.Equal(6, (await NextAsync(ws)).Envelope.GetProperty("sequence").GetInt64());
    }

    [Fact]
    public async Task The_subscription_cap_refuses_one_more_channel_with_an_error_envelope()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.WebSocket.MaxSubscriptions = 2);
        var ids = new[] { await hub.CreateActiveChannelAsync(), await hub.CreateActiveChannelAsync(), await hub.CreateActiveChannelAsync() };
        using var ws = await ConnectAsync(hub);
        await SubscribeAsync(ws, ids[0]);
        await NextAsync(ws);
        await SubscribeAsync(ws, ids[1]);
        await NextAsync(ws);
        await SubscribeAsync(ws, ids[2]);
        var refused = await NextAsync(ws);
        Assert.Equal(("error", ids[2]), Head(refused));
        Assert.Contains("at most 2 channels per connection", refused.Envelope.GetProperty("message").GetString());

        await SendAsync(ws, $"{{\"op\":\"unsubscribe\",\"channel\":\"{ids[0]}\"}}");
        await NextAsync(ws);
        await SubscribeAsync(ws, ids[2]);
        Assert.Equal(("connected", ids[2]), Head(await NextAsync(ws)));
    }

    [Fact]
    public async Task A_private_channel_without_a_token_is_refused_for_that_channel_only()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.Auth.TokenSecret = TestJwt.Secret);
        var secret = await hub.CreateActiveChannelAsync("""{"name":"Privado","settings":{"private":true,"rate_limit_per_minute":0}}""");
        var open = await hub.CreateActiveChannelAsync();
        using var ws = await ConnectAsync(hub);

        await SubscribeAsync(ws, secret);
        var denied = await NextAsync(ws);
        Assert.Equal(("denied", secret), Head(denied));
        Assert.False(string.IsNullOrEmpty(denied.Envelope.GetProperty("message").GetString()));
        await SubscribeAsync(ws, open);
        Assert.Equal(("connected", open), Head(await NextAsync(ws)));
        Assert.Equal(0, (await hub.BroadcastAsync(secret, "hidden")).GetProperty("recipients").GetInt32());
        await hub.BroadcastAsync(open, "visible");
        Assert.Equal(("broadcast", open), Head(await NextAsync(ws)));

        await SubscribeAsync(ws, secret, $",\"token\":\"{TestJwt.ForChannel(secret)}\"");
        Assert.Equal(("connected", secret), Head(await NextAsync(ws)));
    }

    [Fact]
    public async Task Publish_relays_a_client_message_where_allowed_and_bad_operations_get_error_envelopes()
    {
        await using var hub = await TestHubServer.StartAsync();
        var chat = await hub.CreateActiveChannelAsync("""{"name":"Sala","settings":{"allow_client_messages":true,"rate_limit_per_minute":0}}""");
        var quiet = await hub.CreateActiveChannelAsync();
        using var ws = await ConnectAsync(hub);
        await SubscribeAsync(ws, chat);
        await NextAsync(ws);
        await SubscribeAsync(ws, quiet);
        await NextAsync(ws);

        await SendAsync(ws, $"{{\"op\":\"publish\",\"channel\":\"{chat}\",\"message\":\"hola\"}}");
        var relayed = await NextAsync(ws);
        Assert.Equal(("client_message", chat), Head(relayed));
        Assert.Equal("Client message in Sala: hola", relayed.Envelope.GetProperty("message").GetString());
        await SendAsync(ws, $"{{\"op\":\"publish\",\"channel\":\"{quiet}\",\"message\":\"hola\"}}");
        Assert.Equal(("error", quiet), Head(await NextAsync(ws)));

        await SendAsync(ws, "not json");
        var bad = await NextAsync(ws);
        Assert.Equal(("error", null), Head(bad));
        Assert.Contains("not valid JSON", bad.Envelope.GetProperty("message").GetString());
        await SendAsync(ws, $"{{\"op\":\"dance\",\"channel\":\"{chat}\"}}");
        Assert.Contains("Unknown op 'dance'", (await NextAsync(ws)).Envelope.GetProperty("message").GetString());
        await SendAsync(ws, $"{{\"op\":\"subscribe\",\"channel\":\"{Guid.NewGuid()}\"}}");
        Assert.Contains("does not exist", (await NextAsync(ws)).Envelope.GetProperty("message").GetString());
        Assert.Equal(WebSocketState.Open, ws.State);
    }
}
