using System.Buffers;
using EmitHub.Net.WebSockets;
using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.WebSockets;

/// <summary>The exact bytes of RFC 6455 bugs found by review and hostile tests (issue 9), so they stay fixed.</summary>
public class WebSocketRegressionTests
{
    // Ten pings in one write: FIN=1 PING MASK=1 len=1 key=00000000 payload i, for i = 1..10.
    private static readonly byte[] s_tenPings =
    [
        0x89, 0x81, 0, 0, 0, 0, 0x01,
        0x89, 0x81, 0, 0, 0, 0, 0x02,
        0x89, 0x81, 0, 0, 0, 0, 0x03,
        0x89, 0x81, 0, 0, 0, 0, 0x04,
        0x89, 0x81, 0, 0, 0, 0, 0x05,
        0x89, 0x81, 0, 0, 0, 0, 0x06,
        0x89, 0x81, 0, 0, 0, 0, 0x07,
        0x89, 0x81, 0, 0, 0, 0, 0x08,
        0x89, 0x81, 0, 0, 0, 0, 0x09,
        0x89, 0x81, 0, 0, 0, 0, 0x0A,
    ];

    // Bug: a burst of pings read in one go was answered with one pong (the latest); clients counting pongs and the
    // standard conformance suite see missing answers.
    [Fact]
    public async Task Ten_pings_in_one_write_get_ten_pongs_in_order_with_their_payloads()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        using var client = await RawWebSocketClient.ConnectAsync(hub.EndPoint, $"/api/v1/channels/{id}/ws");
        var connected = await client.ReadEventsAsync(e => e.Count == 1);
        Assert.StartsWith("text:{\"status\":\"connected\"", connected[0]);

        await client.SendAsync(s_tenPings);
        var events = await client.ReadEventsAsync(e => e.Count(x => x.StartsWith("pong:", StringComparison.Ordinal)) == 10);

        Assert.Equal(Enumerable.Range(1, 10).Select(i => $"pong:{i:X2}"), events);
    }

    [Fact]
    public void Ten_pings_read_in_one_go_queue_ten_pongs_written_in_order()
    {
        var outbox = new WebSocketOutbox(Guid.NewGuid(), 1 << 20);
        var buffer = new ReadOnlySequence<byte>(s_tenPings);
        using var reader = new WebSocketProtocolReader(ReaderDriver.DefaultLimits);
        while (reader.TryRead(ref buffer, out var ev))
        {
            Assert.Equal(WebSocketEventKind.Ping, ev.Kind);
            outbox.OnPing(ev.Payload.Span);
        }

        var writer = new ArrayBufferWriter<byte>();
        Assert.Equal(10, outbox.WriteControlFrames(writer));
        // FIN=1 PONG len=1 payload i, for i = 1..10
        Assert.Equal(string.Concat(Enumerable.Range(1, 10).Select(i => $"8A01{i:X2}")), Convert.ToHexString(writer.WrittenSpan));
        outbox.Dispose();
    }

    [Fact]
    public void Past_sixteen_pending_pongs_only_the_latest_ping_replaces_the_last_one()
    {
        var pending = new PendingPong();
        for (byte i = 1; i <= 40; i++)
        {
            pending.OnPing([i, i]);
        }
        Assert.Equal(PendingPong.MaxPendingPongs, pending.PendingCount);
        Assert.Equal(40 - PendingPong.MaxPendingPongs, pending.ReplacedCount);

        var writer = new ArrayBufferWriter<byte>();
        Assert.Equal(PendingPong.MaxPendingPongs, pending.WritePongs(writer));
        // The first 15 pings in order, then the 40th: FIN=1 PONG len=2.
        var expected = Enumerable.Range(1, PendingPong.MaxPendingPongs - 1).Append(40).Select(i => $"8A02{i:X2}{i:X2}");
        Assert.Equal(string.Concat(expected), Convert.ToHexString(writer.WrittenSpan));
        Assert.Equal(0, pending.PendingCount);
        Assert.Equal(0, pending.WritePongs(writer));
    }
}
