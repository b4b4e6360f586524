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

    private static List<string> ReadEveryWay(byte[] bytes, WebSocketReaderLimits limits)
    {
        var whole = ReaderDriver.Run(bytes, limits);
        // The verdict does not depend on how the bytes arrive: one byte per segment, one byte per read.
        Assert.Equal(whole, ReaderDriver.RunSequence(TestSegment.OneBytePerSegment(bytes), limits));
        Assert.Equal(whole, ReaderDriver.Run(bytes.Select(b => new[] { b }), limits));
        return whole;
    }

    // Bug: every fragment counted at least 16 bytes toward the size, so a legal message of exactly message_size_limit
    // bytes was refused 1009 when its last fragment was under 16 bytes.
    [Fact]
    public void A_message_of_exactly_message_size_limit_bytes_with_a_short_last_fragment_is_delivered()
    {
        var limits = new WebSocketReaderLimits(MaxMessageSize: 100, MaxContinuationSize: 100);
        byte[] bytes =
        [
            0x01, 0xDF, 0, 0, 0, 0, .. Enumerable.Repeat((byte)'a', 95), // FIN=0 TEXT MASK=1 len=95 key=0
            0x80, 0x85, 0, 0, 0, 0, .. "bbbbb"u8.ToArray(),              // FIN=1 CONT MASK=1 len=5 key=0
        ];
        Assert.Equal(["text:" + new string('a', 95) + "bbbbb"], ReadEveryWay(bytes, limits));
    }

    [Fact]
    public void One_byte_over_message_size_limit_in_fragments_is_still_1009()
    {
        var limits = new WebSocketReaderLimits(MaxMessageSize: 100, MaxContinuationSize: 100);
        byte[] bytes =
        [
            0x01, 0xDF, 0, 0, 0, 0, .. Enumerable.Repeat((byte)'a', 95), // FIN=0 TEXT MASK=1 len=95 key=0
            0x80, 0x86, 0, 0, 0, 0,                                     // FIN=1 CONT MASK=1 len=6: 101 bytes, judged from the header
        ];
        Assert.Equal(["error:1009:MessageTooBig", "finished"], ReadEveryWay(bytes, limits));
    }

    [Fact]
    public void Endless_empty_fragments_are_refused_by_the_fragment_count()
    {
        var limits = new WebSocketReaderLimits(MaxMessageSize: 1 << 20, MaxContinuationSize: 1 << 20, MaxFragments: 4);
        byte[] bytes =
        [
            0x01, 0x80, 0, 0, 0, 0, // FIN=0 TEXT MASK=1 len=0 (fragment 1)
            0x00, 0x80, 0, 0, 0, 0, // FIN=0 CONT MASK=1 len=0 (2)
            0x00, 0x80, 0, 0, 0, 0, // FIN=0 CONT MASK=1 len=0 (3)
            0x00, 0x80, 0, 0, 0, 0, // FIN=0 CONT MASK=1 len=0 (4, still allowed)
            0x00, 0x80, 0, 0, 0, 0, // FIN=0 CONT MASK=1 len=0 (5 > 4)
        ];
        Assert.Equal(["error:1009:TooManyFragments", "finished"], ReadEveryWay(bytes, limits));
        Assert.Equal(1009, WebSocketProtocolErrors.GetCloseCode(WebSocketProtocolError.TooManyFragments));
        Assert.Contains("fragments", WebSocketProtocolErrors.GetReason(WebSocketProtocolError.TooManyFragments));
    }

    // Bug: a client that sent a first fragment (FIN=0) and then only answered pings held its partial message (up to
    // max_continuation_size) forever.
    [Fact]
    public async Task A_client_that_sends_fin_0_and_then_only_answers_pings_is_closed_1008_after_connection_timeout()
    {
        // The heartbeat ticks about once a second; a tick that comes late, past the deadline, sends the ping that fell
        // due (KeepalivePingScheduleTests) and closes, so this loop may answer only that one before the close. 6 s of
        // connection_timeout leaves room for several pings even on a loaded machine.
        await using var hub = await TestHubServer.StartAsync(o =>
        {
            o.WebSocket.ConnectionTimeout = 6;
            o.WebSocket.PingInterval = 1;
        });
        var id = await hub.CreateActiveChannelAsync();
        using var client = await RawWebSocketClient.ConnectAsync(hub.EndPoint, $"/api/v1/channels/{id}/ws");
        Assert.StartsWith("text:{\"status\":\"connected\"", (await client.ReadEventsAsync(e => e.Count == 1))[0]);

        await client.SendAsync([0x01, 0x83, 0, 0, 0, 0, (byte)'a', (byte)'b', (byte)'c']); // FIN=0 TEXT MASK=1 len=3 key=0
        var pongsSent = 0;
        List<string> events;
        while (true)
        {
            events = await client.ReadEventsAsync(e => e.Count == 1);
            if (events is not [var only] || !only.StartsWith("ping:", StringComparison.Ordinal) || pongsSent == 30)
            {
                break; // 30 pings answered (about 30 s) means the message was never given up on
            }
            // Answer each keepalive ping: the connection is alive, only its message never ends.
            var payload = Convert.FromHexString(only["ping:".Length..]);
            await client.SendAsync(ClientFrame.Build(EmitHub.Net.WebSockets.WebSocketOpcode.Pong, payload));
            pongsSent++;
        }
        Assert.True(pongsSent >= 1, "the server pinged and got answers before giving up on the message");
        Assert.Equal("close:1008:A message was not finished within connection_timeout.", events[0]);
        Assert.True(await client.IsClosedByServerAsync()); // and the TCP connection is dropped
    }

    [Fact]
    public async Task Many_half_sent_messages_stay_within_max_partial_message_bytes_the_largest_holder_closed_1009()
    {
        const long budget = 64 * 1024;
        await using var hub = await TestHubServer.StartAsync(o => o.WebSocket.MaxPartialMessageBytes = budget);
        // Past the evictions, the 8 clients left open must still be open: no message deadline, no keepalive ping in
        // the way of reading "nothing" from them (defaults: connection_timeout 30 s, ping_interval 30 s).
        var id = await hub.CreateActiveChannelAsync();
        var endpoint = (WebSocketEndpoint)hub.Server.WebSocketUpgrade!;
        var clients = new List<RawWebSocketClient>();
        var closed = new List<string>();
        try
        {
            // 24 clients each leave 8 KiB of a message unfinished: 192 KiB wanted, 64 KiB allowed.
            for (var i = 0; i < 24; i++)
            {
                var client = await RawWebSocketClient.ConnectAsync(hub.EndPoint, $"/api/v1/channels/{id}/ws");
                clients.Add(client);
                await client.ReadEventsAsync(e => e.Count == 1); // connected
                // FIN=0 TEXT MASK=1 len=8192 (16-bit length) key=0, then 8 KiB of 'x'.
                await client.SendAsync([0x01, 0xFE, 0x20, 0x00, 0, 0, 0, 0, .. Enumerable.Repeat((byte)'x', 8192)]);
                Assert.True(endpoint.PartialMessages.HeldBytes <= budget, $"held {endpoint.PartialMessages.HeldBytes} bytes");
            }
            await WaitUntil(() => endpoint.PartialMessages.Evictions >= 16);
            foreach (var client in clients)
            {
                var events = await client.ReadEventsAsync(e => e.Count == 1, silence: TimeSpan.FromSeconds(1));
                if (events[0].StartsWith("close:", StringComparison.Ordinal))
                {
                    Assert.Equal(["close:1009:Unfinished messages are over max_partial_message_bytes; this connection held the most.", "finished"], events);
                    Assert.True(await client.IsClosedByServerAsync());
                    closed.Add(events[0]);
                }
                else
                {
                    Assert.Equal(["timeout"], events); // still open, waiting for the rest of its message
                }
            }
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
        Assert.True(endpoint.PartialMessages.HeldBytes <= budget);
        Assert.Equal(endpoint.PartialMessages.Evictions, closed.Count);
        Assert.InRange(closed.Count, 16, 24);
        await WaitUntil(() => endpoint.PartialMessages.HeldBytes == 0); // every lease is returned when its connection ends
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (var i = 0; i < 600 && !condition(); i++)
        {
            await Task.Delay(50);
        }
        Assert.True(condition());
    }
}
