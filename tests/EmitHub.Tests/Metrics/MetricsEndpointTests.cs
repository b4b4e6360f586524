using System.Net;
using System.Net.WebSockets;
using System.Text;
using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Metrics;

/// <summary><c>GET /metrics</c> against the real server: values that follow what the test does.</summary>
public class MetricsEndpointTests
{
    [Fact]
    public async Task Three_connected_clients_show_as_three_open_websockets_and_leave_closed_by_reason()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        var before = await MetricsScrape.GetAsync(hub);
        Assert.Equal(0, before["emithub_websocket_connections"]);
        Assert.Equal(1, before["emithub_channels{status=\"Active\"}"]);
        Assert.Equal(0, before["emithub_channels{status=\"Created\"}"]);

        var clients = new List<ClientWebSocket>();
        for (var i = 0; i < 3; i++)
        {
            var ws = await hub.ConnectAsync(id);
            Assert.Equal("connected", (await ws.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());
            clients.Add(ws);
        }

        var open = await MetricsScrape.GetAsync(hub);
        Assert.Equal(3, open["emithub_websocket_connections"]);
        Assert.Equal(3, open["emithub_websocket_connections_opened_total"]);
        // The three WebSockets plus this scrape's own HTTP connection (HttpClient may keep an earlier one alive).
        Assert.InRange(open["emithub_connections"], 4, 5);

        await clients[0].CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        await hub.Client.PutAsync($"/api/v1/channels/{id}/stop", null);
        foreach (var ws in clients.Skip(1))
        {
            while (await ws.ReceiveTextAsync() is not null)
            {
            }
            // Answer the server's close (RFC 6455 §5.5.1), which ClientWebSocket leaves to the caller.
            await ws.CloseOutputAsync(WebSocketCloseStatus.EndpointUnavailable, "", CancellationToken.None);
        }

        // A TCP connection is counted closed after its linger, a moment after its WebSocket.
        var closed = await MetricsScrape.WaitForAsync(hub, s => s["emithub_websocket_connections"] == 0
            && s["emithub_websocket_connections_closed_total{reason=\"going_away\"}"] == 2
            && s["emithub_connections_closed_total{reason=\"upgraded_protocol_closed\"}"] == 3);
        Assert.Equal(1, closed["emithub_websocket_connections_closed_total{reason=\"client_close\"}"]);
        Assert.Equal(0, closed["emithub_websocket_connections_closed_total{reason=\"slow_consumer\"}"]);
        Assert.Equal(1, closed["emithub_channels{status=\"Stopped\"}"]);
        Assert.Equal(0, closed["emithub_channels{status=\"Active\"}"]);
        foreach (var ws in clients)
        {
            ws.Dispose();
        }
    }

    [Fact]
    public async Task A_broadcast_to_two_clients_counts_one_broadcast_two_deliveries_and_one_latency_sample()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        using var a = await hub.ConnectAsync(id);
        using var b = await hub.ConnectAsync(id);
        await a.ReceiveEnvelopeAsync();
        await b.ReceiveEnvelopeAsync();
        var before = await MetricsScrape.GetAsync(hub);
        Assert.Equal(0, before["emithub_broadcasts_total"]);
        Assert.Equal(0, before["emithub_publish_duration_seconds_count"]);

        await hub.BroadcastAsync(id, "A004");
        await hub.BroadcastAsync(id, "A005");
        foreach (var ws in new[] { a, b })
        {
            Assert.Equal("A004", (await ws.ReceiveEnvelopeAsync())!.Value.GetProperty("message").GetString());
            Assert.Equal("A005", (await ws.ReceiveEnvelopeAsync())!.Value.GetProperty("message").GetString());
        }

        // A send is counted when the kernel took it, which can be a moment after the client read it.
        var sentBefore = before["emithub_network_io_bytes_total{direction=\"sent\"}"];
        var after = await MetricsScrape.WaitForAsync(hub, s => s["emithub_network_io_bytes_total{direction=\"sent\"}"] - sentBefore > 4 * 100);
        Assert.Equal(2, after["emithub_broadcasts_total"]);
        Assert.Equal(4, after["emithub_deliveries_total"]);
        Assert.Equal(2, after["emithub_publish_duration_seconds_count"]);
        Assert.Equal(2, after["emithub_publish_duration_seconds_bucket{le=\"+Inf\"}"]);
        Assert.True(after["emithub_publish_duration_seconds_sum"] > 0);
        Assert.Equal(0, after["emithub_client_messages_total"]);
        Assert.True(after["emithub_network_io_bytes_total{direction=\"received\"}"] > before["emithub_network_io_bytes_total{direction=\"received\"}"]);
    }

    [Fact]
    public async Task A_client_message_and_rate_limit_refusals_are_counted_by_kind()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync("""{"name":"Chat","settings":{"allow_client_messages":true,"rate_limit_per_minute":1}}""");
        using var ws = await hub.ConnectAsync(id);
        await ws.ReceiveEnvelopeAsync();

        await ws.SendAsync(Encoding.UTF8.GetBytes("hola"), WebSocketMessageType.Text, true, CancellationToken.None);
        Assert.Equal("client_message", (await ws.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());
        await ws.SendAsync(Encoding.UTF8.GetBytes("otra vez"), WebSocketMessageType.Text, true, CancellationToken.None);
        Assert.Equal("error", (await ws.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());
        await hub.BroadcastAsync(id, "first");
        var refused = await hub.Client.PostAsync($"/api/v1/channels/{id}/broadcast",
            new StringContent("""{"content":"second"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);

        var scrape = await MetricsScrape.GetAsync(hub);
        Assert.Equal(1, scrape["emithub_client_messages_total"]);
        Assert.Equal(1, scrape["emithub_broadcasts_total"]);
        Assert.Equal(1, scrape["emithub_rate_limited_total{kind=\"client_message\"}"]);
        Assert.Equal(1, scrape["emithub_rate_limited_total{kind=\"broadcast\"}"]);
        Assert.Equal(2, scrape["emithub_deliveries_total"]);
    }

    [Fact]
    public async Task Process_figures_are_exposed_under_the_standard_prometheus_names()
    {
        await using var hub = await TestHubServer.StartAsync();
        var scrape = await MetricsScrape.GetAsync(hub);
        Assert.True(scrape["process_cpu_seconds_total"] > 0);
        Assert.True(scrape["process_resident_memory_bytes"] > 1024 * 1024);
        Assert.True(scrape["process_open_fds"] > 3);
        Assert.True(scrape["process_max_fds"] >= scrape["process_open_fds"]);
        Assert.True(scrape["dotnet_gc_heap_bytes"] > 0);
        Assert.InRange(scrape["process_start_time_seconds"], DateTimeOffset.UtcNow.AddDays(-2).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        Assert.Contains("# TYPE process_cpu_seconds_total counter\n", scrape.Text);
        Assert.Contains("# TYPE emithub_publish_duration_seconds histogram\n", scrape.Text);
    }

    [Fact]
    public async Task With_an_api_key_metrics_need_the_bearer_token()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.ApiKey = "s3cret-key");
        var refused = await hub.Client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("Bearer", refused.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Contains("Authorization: Bearer", await refused.Content.ReadAsStringAsync());

        var scrape = await MetricsScrape.GetAsync(hub, bearer: "s3cret-key");
        Assert.Equal(0, scrape["emithub_broadcasts_total"]);
        var post = await hub.Client.PostAsync("/metrics", null);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
    }

    [Fact]
    public async Task Two_servers_in_one_process_count_only_their_own()
    {
        await using var first = await TestHubServer.StartAsync();
        await using var second = await TestHubServer.StartAsync();
        var id = await first.CreateActiveChannelAsync();
        await first.BroadcastAsync(id, "only here");
        Assert.Equal(1, (await MetricsScrape.GetAsync(first))["emithub_broadcasts_total"]);
        Assert.Equal(0, (await MetricsScrape.GetAsync(second))["emithub_broadcasts_total"]);
        Assert.Equal(0, (await MetricsScrape.GetAsync(second))["emithub_channels{status=\"Active\"}"]);
    }
}
