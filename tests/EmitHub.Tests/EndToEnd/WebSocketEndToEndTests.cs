using EmitHub.Tests.Infrastructure;
using System.Net.WebSockets;
using System.Text;

namespace EmitHub.Tests.EndToEnd;

public class WebSocketEndToEndTests
{
    [Fact]
    public async Task Clients_get_connected_then_each_broadcast_as_the_seed_envelope()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        var clients = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => hub.ConnectAsync(id)));
        foreach (var client in clients)
        {
            var connected = (await client.ReceiveEnvelopeAsync())!.Value;
            Assert.Equal("connected", connected.GetProperty("status").GetString());
            Assert.Equal("Connected to channel: Sistema de Turnos", connected.GetProperty("message").GetString());
        }

        var ack = await hub.BroadcastAsync(id, "A004");

        Assert.Equal(20, ack.GetProperty("recipients").GetInt32());
        Assert.Equal(1, ack.GetProperty("sequence").GetInt64());
        foreach (var client in clients)
        {
            var envelope = (await client.ReceiveEnvelopeAsync())!.Value;
            Assert.Equal("broadcast", envelope.GetProperty("status").GetString());
            Assert.Equal("A004", envelope.GetProperty("message").GetString());
            Assert.Equal(id, envelope.GetProperty("channel_id").GetString());
            Assert.Equal(System.Text.Json.JsonValueKind.Null, envelope.GetProperty("data").ValueKind);
            Assert.Equal(1, envelope.GetProperty("sequence").GetInt64());
            client.Dispose();
        }
    }

    [Fact]
    public async Task Stop_sends_stopped_then_close_1001()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        using var client = await hub.ConnectAsync(id);
        await client.ReceiveEnvelopeAsync();

        await hub.Client.PutAsync($"/api/v1/channels/{id}/stop", null);

        var stopped = (await client.ReceiveEnvelopeAsync())!.Value;
        Assert.Equal("stopped", stopped.GetProperty("status").GetString());
        Assert.Null(await client.ReceiveTextAsync());
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, client.CloseStatus);
    }

    [Fact]
    public async Task A_client_of_a_created_channel_is_denied_and_closed_1008()
    {
        await using var hub = await TestHubServer.StartAsync();
        var created = await hub.Client.PostAsync("/api/v1/channels", new StringContent("""{"name":"idle"}""", Encoding.UTF8, "application/json"));
        var id = System.Text.Json.JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        using var client = await hub.ConnectAsync(id);

        var denied = (await client.ReceiveEnvelopeAsync())!.Value;

        Assert.Equal("denied", denied.GetProperty("status").GetString());
        Assert.Equal("Channel idle is not active", denied.GetProperty("message").GetString());
        Assert.Null(await client.ReceiveTextAsync());
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, client.CloseStatus);
    }

    [Fact]
    public async Task Client_messages_reach_every_client_of_the_channel()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync("""{"name":"Sala","settings":{"allow_client_messages":true}}""");
        using var sender = await hub.ConnectAsync(id);
        using var other = await hub.ConnectAsync(id);
        await sender.ReceiveEnvelopeAsync();
        await other.ReceiveEnvelopeAsync();

        await sender.SendAsync("Hola"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);

        var relayed = (await other.ReceiveEnvelopeAsync())!.Value;
        Assert.Equal("client_message", relayed.GetProperty("status").GetString());
        Assert.Equal("Client message in Sala: Hola", relayed.GetProperty("message").GetString());
        var echoed = (await sender.ReceiveEnvelopeAsync())!.Value;
        Assert.Equal("Hola", echoed.GetProperty("data").GetProperty("original_message").GetString());
    }

    [Fact]
    public async Task A_client_close_is_echoed_with_the_same_code()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        using var client = await hub.ConnectAsync(id);
        await client.ReceiveEnvelopeAsync();

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token);

        Assert.Equal(WebSocketState.Closed, client.State);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
    }

    [Fact]
    public async Task Binary_messages_are_refused_with_1003()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        using var client = await hub.ConnectAsync(id);
        await client.ReceiveEnvelopeAsync();

        await client.SendAsync(new byte[] { 1, 2, 3 }, WebSocketMessageType.Binary, true, CancellationToken.None);

        Assert.Null(await client.ReceiveTextAsync());
        Assert.Equal((WebSocketCloseStatus)1003, client.CloseStatus);
    }
}

public class WebSocketHandshakeRegressionTests
{
    [Fact]
    public async Task A_repeated_sec_websocket_key_is_refused_with_400()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        using var raw = await EmitHub.Tests.Infrastructure.RawHttpConnection.ConnectAsync(hub.EndPoint);

        await raw.SendAsync($"GET /api/v1/channels/{id}/ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n\r\n");
        var response = (await raw.ReadResponseAsync())!;

        Assert.Equal(400, response.StatusCode);
        Assert.Contains("Sec-WebSocket-Key", response.Body);
    }

    [Fact]
    public async Task The_connected_envelope_counts_the_connection_it_greets()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        using var client = await hub.ConnectAsync(id);

        var connected = (await client.ReceiveEnvelopeAsync())!.Value;

        Assert.Equal(1, connected.GetProperty("data").GetProperty("channel").GetProperty("stats").GetProperty("connections").GetInt32());
    }
}
