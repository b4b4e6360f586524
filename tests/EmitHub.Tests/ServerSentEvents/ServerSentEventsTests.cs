using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EmitHub.Tests.Auth;
using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.ServerSentEvents;

/// <summary>
/// <c>GET /api/v1/channels/{id}/events</c> end to end: curl -N and a .NET HttpClient reader see the same envelopes
/// as WebSocket clients (id: = sequence, event: = status), recover with Last-Event-ID without gap or duplicate, get
/// heartbeat comments, are cut as slow consumers without harming a reading client, and follow the WebSocket's
/// Origin and private-channel rules.
/// </summary>
public class ServerSentEventsTests
{
    private const string PersistingChannel = """{"name":"Turnos","settings":{"persist_messages":true,"rate_limit_per_minute":0}}""";

    [Fact]
    public async Task Curl_N_receives_connected_then_each_broadcast_as_id_event_data()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        using var curl = ClientProcess.Start("curl", "-s", "-N", $"http://127.0.0.1:{hub.EndPoint.Port}/api/v1/channels/{id}/events");
        await curl.WaitForAsync("event: connected");

        var ack = await hub.BroadcastAsync(id, "A004");
        Assert.Equal(1, ack.GetProperty("recipients").GetInt32());
        await hub.BroadcastAsync(id, "A005");

        await curl.WaitForAsync("\"message\":\"A005\"");
        var lines = curl.Output.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var first = lines.IndexOf("id: 1");
        Assert.True(first >= 0, curl.Output);
        Assert.Equal("event: broadcast", lines[first + 1]);
        Assert.StartsWith("data: {\"status\":\"broadcast\",\"message\":\"A004\"", lines[first + 2]);
        Assert.Equal("", lines[first + 3]);
        Assert.Equal("id: 2", lines[first + 4]);
    }

    [Fact]
    public async Task The_HttpClient_reader_gets_byte_identical_envelopes_to_a_WebSocket_client()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        using var ws = await hub.ConnectAsync(id);
        await ws.ReceiveEnvelopeAsync();
        using var sse = await SseReader.OpenAsync(hub, id);
        Assert.Equal(HttpStatusCode.OK, sse.Response.StatusCode);
        Assert.Equal("text/event-stream", sse.Response.Content.Headers.ContentType!.MediaType);
        var connected = await sse.ReadEventAsync();
        Assert.Equal("connected", connected!.Event);
        Assert.Null(connected.Id);

        await hub.BroadcastAsync(id, "A004");
        await hub.Client.PutAsync($"/api/v1/channels/{id}/pause", null);
        var broadcast = await sse.ReadEventAsync();
        Assert.Equal(("1", "broadcast"), (broadcast!.Id, broadcast.Event));
        Assert.Equal(await ws.ReceiveTextAsync(), broadcast.Data);
        var paused = await sse.ReadEventAsync();
        Assert.Equal(("paused", null), (paused!.Event, paused.Id));
        Assert.Equal(await ws.ReceiveTextAsync(), paused.Data);

        // stopped: the last event, then the stream ends (where a WebSocket gets close 1001).
        await hub.Client.PutAsync($"/api/v1/channels/{id}/stop", null);
        Assert.Equal("stopped", (await sse.ReadEventAsync())!.Event);
        Assert.Null(await sse.ReadEventAsync());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Last_Event_ID_or_after_recovers_every_message_once_with_no_gap(bool header)
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync(PersistingChannel);
        for (var i = 1; i <= 5; i++)
        {
            await hub.BroadcastAsync(id, $"A00{i}");
        }

        using var sse = header ? await SseReader.OpenAsync(hub, id, lastEventId: "2") : await SseReader.OpenAsync(hub, id, "?after=2");
        var connected = (await sse.ReadEventAsync())!.Envelope;
        Assert.True(connected.GetProperty("data").GetProperty("recovered").GetBoolean());
        var received = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            received.Add(long.Parse((await sse.ReadEventAsync())!.Id!));
        }
        await hub.BroadcastAsync(id, "A006");
        var live = await sse.ReadEventAsync();
        received.Add(long.Parse(live!.Id!));
        Assert.Equal([3, 4, 5, 6], received);
        Assert.Equal("A006", live.Envelope.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Last_Event_ID_wins_over_after_and_a_bad_one_is_400()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync(PersistingChannel);
        for (var i = 1; i <= 3; i++)
        {
            await hub.BroadcastAsync(id, $"A00{i}");
        }
        using (var sse = await SseReader.OpenAsync(hub, id, "?after=0", lastEventId: "2"))
        {
            await sse.ReadEventAsync();
            Assert.Equal("3", (await sse.ReadEventAsync())!.Id);
        }
        using var bad = await SseReader.OpenAsync(hub, id, lastEventId: "two");
        Assert.Equal(HttpStatusCode.BadRequest, bad.Response.StatusCode);
        var error = JsonDocument.Parse(await bad.ReadBodyAsync()).RootElement;
        Assert.Equal("invalid_last_event_id", error.GetProperty("code").GetString());
        Assert.Contains("Last-Event-ID must be a sequence number", error.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_quiet_stream_gets_heartbeat_comments_every_ping_interval()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.WebSocket.PingInterval = 1);
        var id = await hub.CreateActiveChannelAsync();
        using var sse = await SseReader.OpenAsync(hub, id);
        await sse.ReadEventAsync();
        Assert.True(await sse.WaitForCommentAsync());
        Assert.True(await sse.WaitForCommentAsync());
        // And the stream is still live after them.
        await hub.BroadcastAsync(id, "A004");
        Assert.Equal("broadcast", (await sse.ReadEventAsync())!.Event);
    }

    [Fact]
    public async Task A_client_that_stops_reading_is_cut_as_a_slow_consumer_and_a_reading_client_gets_everything()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.WebSocket.MaxPendingBytes = 64 * 1024);
        var id = await hub.CreateActiveChannelAsync();
        using var reader = await SseReader.OpenAsync(hub, id);
        await reader.ReadEventAsync();

        using var stalled = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await stalled.ConnectAsync(hub.EndPoint);
        await stalled.SendAsync(Encoding.ASCII.GetBytes($"GET /api/v1/channels/{id}/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"), SocketFlags.None);
        await WaitForConnectionsAsync(hub, id, 2);

        var content = new string('x', 16 * 1024);
        const int Count = 400; // 6.4 MB: past any loopback socket buffering and the 64 KiB bound
        // The reading client takes each event before the next broadcast: it is never behind, the stalled one only grows.
        for (var i = 1; i <= Count; i++)
        {
            await hub.BroadcastAsync(id, content);
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), (await reader.ReadEventAsync())!.Id);
        }
        await WaitForConnectionsAsync(hub, id, 1);
    }

    [Fact]
    public async Task Origin_rules_are_the_WebSockets()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.Cors.AllowedOrigins = ["https://dashboard.example"]);
        var id = await hub.CreateActiveChannelAsync();
        using (var allowed = await SseReader.OpenAsync(hub, id, origin: "https://dashboard.example"))
        {
            Assert.Equal(HttpStatusCode.OK, allowed.Response.StatusCode);
            Assert.Equal("https://dashboard.example", allowed.Response.Headers.GetValues("Access-Control-Allow-Origin").Single());
            Assert.Equal("connected", (await allowed.ReadEventAsync())!.Event);
        }
        using var refused = await SseReader.OpenAsync(hub, id, origin: "https://evil.example");
        Assert.Equal(HttpStatusCode.Forbidden, refused.Response.StatusCode);
        Assert.Contains("origin_not_allowed", await refused.ReadBodyAsync());
    }

    [Fact]
    public async Task A_private_channel_needs_a_token_as_on_the_WebSocket()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.Auth.TokenSecret = TestJwt.Secret);
        var id = await hub.CreateActiveChannelAsync("""{"name":"Privado","settings":{"private":true,"rate_limit_per_minute":0}}""");
        using (var without = await SseReader.OpenAsync(hub, id))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, without.Response.StatusCode);
        }
        using (var wrong = await SseReader.OpenAsync(hub, id, "?token=" + TestJwt.ForChannel(Guid.NewGuid().ToString())))
        {
            Assert.Equal(HttpStatusCode.Forbidden, wrong.Response.StatusCode);
        }
        using var with = await SseReader.OpenAsync(hub, id, "?token=" + TestJwt.ForChannel(id));
        Assert.Equal(HttpStatusCode.OK, with.Response.StatusCode);
        Assert.Equal("connected", (await with.ReadEventAsync())!.Event);
    }

    [Fact]
    public async Task Unknown_channel_is_404_other_methods_405_and_a_refusing_Accept_406()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await hub.Client.GetAsync($"/api/v1/channels/{Guid.NewGuid()}/events")).StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await hub.Client.PostAsync($"/api/v1/channels/{id}/events", null)).StatusCode);
        var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/channels/{id}/events");
        request.Headers.Add("Accept", "application/json");
        Assert.Equal(HttpStatusCode.NotAcceptable, (await hub.Client.SendAsync(request)).StatusCode);
    }

    private static async Task WaitForConnectionsAsync(TestHubServer hub, string id, int expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        int connections;
        do
        {
            var channel = JsonDocument.Parse(await hub.Client.GetStringAsync($"/api/v1/channels/{id}")).RootElement;
            connections = channel.GetProperty("stats").GetProperty("connections").GetInt32();
            if (connections == expected)
            {
                return;
            }
            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Fail($"connections stayed at {connections}, expected {expected}");
    }
}
