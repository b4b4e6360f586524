using EmitHub.Tests.Infrastructure;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;

namespace EmitHub.Tests.EndToEnd;

public class FanOutEndToEndTests
{
    [Fact]
    public async Task Max_connections_holds_under_200_concurrent_handshakes()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync("""{"name":"cap","settings":{"max_connections":50}}""");

        var clients = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => hub.ConnectAsync(id)));
        var first = await Task.WhenAll(clients.Select(c => c.ReceiveEnvelopeAsync()));

        Assert.Equal(50, first.Count(e => e!.Value.GetProperty("status").GetString() == "connected"));
        var denied = first.Where(e => e!.Value.GetProperty("status").GetString() == "denied").ToList();
        Assert.Equal(150, denied.Count);
        Assert.All(denied, e => Assert.Equal("Channel cap is full", e!.Value.GetProperty("message").GetString()));
        var deniedClients = clients.Where((c, i) => first[i]!.Value.GetProperty("status").GetString() == "denied").ToList();
        foreach (var client in deniedClients)
        {
            Assert.Null(await client.ReceiveTextAsync());
            Assert.Equal((WebSocketCloseStatus)1013, client.CloseStatus);
        }
        var ack = await hub.BroadcastAsync(id, "only the 50");
        Assert.Equal(50, ack.GetProperty("recipients").GetInt32());
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }

    [Fact]
    public async Task A_client_that_never_reads_is_cut_off_while_a_reading_client_gets_every_message_in_order()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.WebSocket.MaxPendingBytes = 256 * 1024);
        var id = await hub.CreateActiveChannelAsync();
        using var reader = await hub.ConnectAsync(id);
        await reader.ReceiveEnvelopeAsync();
        // A raw client that completes the handshake, then never reads: its socket buffers fill, then its queue.
        using var stalled = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await stalled.ConnectAsync("127.0.0.1", hub.EndPoint.Port);
        await stalled.SendAsync(Encoding.ASCII.GetBytes(
            $"GET /api/v1/channels/{id}/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"));
        while (hub.Registry.Get(Guid.Parse(id))!.Stats.Connections < 2)
        {
            await Task.Delay(10);
        }
        var content = new string('x', 64 * 1024);
        const int count = 300; // 19 MiB: more than the kernel buffers of the stalled socket hold

        // The reader takes each message before the next is published, so only the stalled client can fall behind.
        var recipients = new List<int>();
        var sequences = new List<long>();
        for (var i = 0; i < count; i++)
        {
            recipients.Add((await hub.BroadcastAsync(id, content)).GetProperty("recipients").GetInt32());
            var envelope = await reader.ReceiveEnvelopeAsync(30);
            Assert.True(envelope.HasValue, $"reader closed {reader.CloseStatus} {reader.CloseStatusDescription} after {sequences.Count}");
            sequences.Add(envelope!.Value.GetProperty("sequence").GetInt64());
        }

        Assert.Equal(Enumerable.Range(1, count).Select(i => (long)i), sequences);
        Assert.Equal(2, recipients[0]);
        Assert.Equal(1, recipients[^1]);
        // The cut connection leaves the channel once its close grace ends and TCP is dropped; it is counted as a slow
        // consumer when its connection has finished, a moment after it left the channel (its send loop ends first).
        var counters = ((EmitHub.Net.WebSockets.WebSocketEndpoint)hub.Server.WebSocketUpgrade!).Counters;
        for (var i = 0; i < 200 && (hub.Registry.Get(Guid.Parse(id))!.Stats.Connections != 1 || counters.SlowConsumers == 0); i++)
        {
            await Task.Delay(50);
        }
        Assert.Equal(1, hub.Registry.Get(Guid.Parse(id))!.Stats.Connections);
        Assert.Equal(1, counters.SlowConsumers);
    }

    [Fact]
    public async Task A_replay_larger_than_max_pending_bytes_reaches_a_reading_client_complete_and_in_order()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.WebSocket.MaxPendingBytes = 16 * 1024);
        var id = await hub.CreateActiveChannelAsync("""{"name":"hist","settings":{"persist_messages":true,"rate_limit_per_minute":0}}""");
        const int count = 1500;
        for (var i = 1; i <= count; i++)
        {
            await hub.BroadcastAsync(id, $"turn {i} " + new string('y', 100));
        }

        using var client = await hub.ConnectAsync(id, "?after=0");
        var connected = (await client.ReceiveEnvelopeAsync())!.Value;
        var sequences = new List<long>();
        while (sequences.Count < count)
        {
            sequences.Add((await client.ReceiveEnvelopeAsync())!.Value.GetProperty("sequence").GetInt64());
        }

        Assert.True(connected.GetProperty("data").GetProperty("recovered").GetBoolean());
        Assert.Equal(Enumerable.Range(1, count).Select(i => (long)i), sequences);
        var live = await hub.BroadcastAsync(id, "live");
        Assert.Equal(count + 1, (await client.ReceiveEnvelopeAsync())!.Value.GetProperty("sequence").GetInt64());
        Assert.Equal(1, live.GetProperty("recipients").GetInt32());
    }
}
