using System.Net;
using System.Net.Sockets;
using System.Text;
using EmitHub.Net.Transport;
using EmitHub.Net.WebSockets;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.WebSockets;

/// <summary>
/// The WebSocket receive side reading the socket itself after the upgrade (issue 10, step 4): the transport's receive
/// loop hands over (bytes pipelined after the request head are the first frames, in order), and the socket input
/// split at every byte assembles the same frames as one write does (the reader's own tests split its input at every
/// byte; these split the TCP stream).
/// </summary>
public class DirectReceiveTests
{
    private static readonly TimeSpan s_byteDelay = TimeSpan.FromMilliseconds(1);

    private static byte[] Close(ushort code) => ClientFrame.Build(WebSocketOpcode.Close, [(byte)(code >> 8), (byte)code]);

    private static byte[] Ping(params byte[] payload) => ClientFrame.Build(WebSocketOpcode.Ping, payload);

    [Fact]
    public async Task Frames_sent_one_byte_per_write_are_echoed_whole_across_utf8_headers_fragments_and_control_frames()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.WebSocket.EchoPath = "/echo");
        using var ws = await RawWebSocketClient.ConnectAsync(hub.EndPoint, "/echo");
        // 300 bytes: a 16-bit extended length (header split across reads), multi-byte UTF-8 split at every byte.
        var text = string.Concat(Enumerable.Repeat("é€𝄞x", 300 / 10)) + "end";
        Assert.True(Encoding.UTF8.GetByteCount(text) > 125);
        var bytes = ClientFrame.Concat(
            ClientFrame.Text(text),
            Ping(0xAB, 0xCD),
            ClientFrame.Text("frag-", fin: false),
            Ping(0x01),
            ClientFrame.Continuation("ment-€", fin: false),
            ClientFrame.Continuation("done", fin: true));

        await ws.SendBytewiseAsync(bytes, s_byteDelay);
        var events = await ws.ReadEventsAsync(e => e.Count == 4);

        Assert.Equal(["text:" + text, "pong:ABCD", "pong:01", "text:frag-ment-€done"], events);

        await ws.SendBytewiseAsync(Close(1000), s_byteDelay);
        Assert.Equal(["close:1000:", "finished"], await ws.ReadUntilClosedAsync());
        Assert.True(await ws.IsClosedByServerAsync());
    }

    [Fact]
    public async Task Invalid_utf8_sent_one_byte_per_write_fails_the_connection_1007_before_the_frame_ends()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.WebSocket.EchoPath = "/echo");
        using var ws = await RawWebSocketClient.ConnectAsync(hub.EndPoint, "/echo");
        // "ok" then 0xC3 0x28 (a lead byte followed by a non-continuation): invalid at its second byte, then 40 more.
        var payload = new byte[] { (byte)'o', (byte)'k', 0xC3, 0x28 }.Concat(Enumerable.Repeat((byte)'a', 40)).ToArray();
        var frame = ClientFrame.Build(WebSocketOpcode.Text, payload);

        // Only the header and the first four payload bytes: the server must fail on what it has.
        await ws.SendBytewiseAsync(frame[..(6 + 4)], s_byteDelay);
        var events = await ws.ReadUntilClosedAsync();

        Assert.Equal(2, events.Count);
        Assert.StartsWith("close:1007:", events[0]);
        Assert.Contains(events[1], new[] { "finished", "eof" });
    }

    [Fact]
    public async Task Frames_pipelined_in_the_handshake_write_are_read_first_and_in_order()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.WebSocket.EchoPath = "/echo");
        var pipelined = ClientFrame.Concat(
            ClientFrame.Text("one"),
            Ping(0x07),
            ClientFrame.Text("two", fin: false),
            ClientFrame.Continuation("-three", fin: true));
        using var ws = await RawWebSocketClient.ConnectAsync(hub.EndPoint, "/echo", pipelined: pipelined);

        var first = await ws.ReadEventsAsync(e => e.Count == 3);
        // Data frames in order; the pong may go ahead of queued data (the outbox sends control frames first).
        Assert.Equal(["text:one", "text:two-three"], first.Where(e => e.StartsWith("text:", StringComparison.Ordinal)));
        Assert.Contains("pong:07", first);

        // And the socket is read after the hand-over: a frame sent later follows them.
        await ws.SendAsync(ClientFrame.Text("four"));
        Assert.Equal(["text:four"], await ws.ReadEventsAsync(e => e.Count == 1));
    }

    [Fact]
    public async Task Half_a_frame_pipelined_with_the_handshake_is_finished_by_later_writes()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.WebSocket.EchoPath = "/echo");
        var frame = ClientFrame.Text(new string('z', 200));
        // The head ends mid-way through the frame's extended length: the tail carried over from the pipe.
        using var ws = await RawWebSocketClient.ConnectAsync(hub.EndPoint, "/echo", pipelined: frame[..3]);

        await ws.SendBytewiseAsync(frame[3..10], s_byteDelay);
        await ws.SendAsync(frame[10..]);

        Assert.Equal(["text:" + new string('z', 200)], await ws.ReadEventsAsync(e => e.Count == 1));
    }

    [Fact]
    public async Task A_close_frame_pipelined_with_the_handshake_is_answered_and_the_server_closes_tcp_first()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.WebSocket.EchoPath = "/echo");
        using var ws = await RawWebSocketClient.ConnectAsync(hub.EndPoint, "/echo",
            pipelined: ClientFrame.Concat(ClientFrame.Text("last"), Close(1000)));

        Assert.Equal(["text:last", "close:1000:", "finished"], await ws.ReadUntilClosedAsync());
        Assert.True(await ws.IsClosedByServerAsync());
    }

    /// <summary>Stress for the hand-over: many connections at once, each pipelining frames with its handshake and
    /// then sending frames cut at random points (across headers and frame boundaries); every echo arrives, in order.</summary>
    [Fact]
    public async Task Many_connections_with_pipelined_and_randomly_split_frames_echo_everything_in_order()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.WebSocket.EchoPath = "/echo");
        const int connections = 48;
        const int framesEach = 30;

        async Task RunOne(int n)
        {
            var random = new Random(n);
            var expected = Enumerable.Range(0, framesEach)
                .Select(i => $"c{n}-m{i}-" + new string((char)('a' + i % 26), random.Next(0, 300)))
                .ToList();
            var pipelinedCount = random.Next(0, 4);
            using var ws = await RawWebSocketClient.ConnectAsync(hub.EndPoint, "/echo",
                pipelined: ClientFrame.Concat([.. expected.Take(pipelinedCount).Select(t => ClientFrame.Text(t))]));
            var rest = ClientFrame.Concat([.. expected.Skip(pipelinedCount).Select(t => ClientFrame.Text(t))]);
            for (var at = 0; at < rest.Length;)
            {
                var cut = Math.Min(rest.Length - at, random.Next(1, 40));
                await ws.SendAsync(rest[at..(at + cut)]);
                at += cut;
                if (random.Next(4) == 0)
                {
                    await Task.Delay(1);
                }
            }
            var events = await ws.ReadEventsAsync(e => e.Count == framesEach);
            Assert.Equal(expected.Select(t => "text:" + t), events);
        }

        await Task.WhenAll(Enumerable.Range(0, connections).Select(RunOne));
    }
}
