using System.Buffers;
using System.Text;
using EmitHub.Net.WebSockets;

namespace EmitHub.Tests.WebSockets;

public class WebSocketProtocolReaderTests
{
    public static TheoryData<string> ValidScenarios => new(s_valid.Keys);

    private static readonly Dictionary<string, (byte[] Bytes, string[] Events)> s_valid = new()
    {
        // RFC 6455 §5.7: a single-frame masked text message "Hello".
        ["rfc masked hello"] = (
            [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58], // FIN=1 TEXT MASK=1 len=5 key=37fa213d
            ["text:Hello"]),
        ["fragmented hello"] = (
            ClientFrame.Concat(ClientFrame.Text("Hel", fin: false), ClientFrame.Continuation("lo", fin: true)),
            ["text:Hello"]),
        ["ping interleaved in a fragmented message"] = (
            ClientFrame.Concat(
                ClientFrame.Text("a", fin: false),
                ClientFrame.Build(WebSocketOpcode.Ping, [1, 2, 3]),
                ClientFrame.Continuation("b", fin: false),
                ClientFrame.Build(WebSocketOpcode.Pong, [9]),
                ClientFrame.Continuation("c", fin: true)),
            ["ping:010203", "pong:09", "text:abc"]),
        ["two messages then close"] = (
            ClientFrame.Concat(
                ClientFrame.Text("one"),
                ClientFrame.Text("two"),
                ClientFrame.Build(WebSocketOpcode.Close, [0x03, 0xE8, (byte)'b', (byte)'y', (byte)'e'])),
            ["text:one", "text:two", "close:1000:bye", "finished"]),
        ["empty text and empty fragments"] = (
            ClientFrame.Concat(
                ClientFrame.Text(""),
                ClientFrame.Text("", fin: false),
                ClientFrame.Continuation("", fin: false),
                ClientFrame.Continuation("x", fin: false),
                ClientFrame.Continuation("", fin: true)),
            ["text:", "text:x"]),
        ["16-bit length"] = (
            ClientFrame.Text(new string('q', 300)),
            ["text:" + new string('q', 300)]),
        ["non-minimal 64-bit length is allowed"] = (
            ClientFrame.Build(WebSocketOpcode.Text, "hi"u8, forceLengthBytes: 8),
            ["text:hi"]),
        ["non-minimal 16-bit length is allowed"] = (
            ClientFrame.Build(WebSocketOpcode.Text, "hi"u8, forceLengthBytes: 2),
            ["text:hi"]),
        ["multi-byte code points split across fragments"] = (
            ClientFrame.Concat(
                ClientFrame.Build(WebSocketOpcode.Text, [0xE2], fin: false),            // first byte of €
                ClientFrame.Build(WebSocketOpcode.Continuation, [0x82], fin: false),    // second byte
                ClientFrame.Build(WebSocketOpcode.Continuation, [0xAC, 0xF0, 0x9D], fin: false), // € ends, 𝄞 starts
                ClientFrame.Build(WebSocketOpcode.Continuation, [0x84, 0x9E], fin: true)),
            ["text:€𝄞"]),
        ["close without payload"] = (
            [0x88, 0x80, 0x00, 0x00, 0x00, 0x00], // FIN=1 CLOSE MASK=1 len=0
            ["close:1005:", "finished"]),
        ["ping with 125 bytes"] = (
            ClientFrame.Build(WebSocketOpcode.Ping, Enumerable.Repeat((byte)0xAB, 125).ToArray()),
            ["ping:" + string.Concat(Enumerable.Repeat("AB", 125))]),
        ["close with application code and UTF-8 reason"] = (
            ClientFrame.Build(WebSocketOpcode.Close, [0x0F, 0xA0, .. Encoding.UTF8.GetBytes("adiós")]),
            ["close:4000:adiós", "finished"]),
    };

    [Theory]
    [MemberData(nameof(ValidScenarios))]
    public void Valid_sequence_decodes_the_same_whole_split_at_every_index_and_one_byte_per_segment(string scenario)
    {
        var (bytes, expected) = s_valid[scenario];

        Assert.Equal(expected, ReaderDriver.Run(bytes));
        Assert.Equal(expected, ReaderDriver.RunSequence(TestSegment.OneBytePerSegment(bytes)));

        for (var split = 0; split <= bytes.Length; split++)
        {
            // Two arrivals, like two socket reads.
            Assert.Equal(expected, ReaderDriver.Run([bytes[..split], bytes[split..]]));
            // One arrival whose buffer has two segments.
            Assert.Equal(expected, ReaderDriver.RunSequence(TestSegment.Create(bytes.AsMemory(0, split), bytes.AsMemory(split))));
        }

        // One byte per arrival.
        Assert.Equal(expected, ReaderDriver.Run(bytes.Select(b => new[] { b })));
    }

    [Fact]
    public void Masked_payload_longer_than_a_vector_unmasks_correctly_when_split_at_odd_indices()
    {
        var text = string.Concat(Enumerable.Range(0, 700).Select(i => (char)('a' + (i % 26))));
        var bytes = ClientFrame.Text(text);
        foreach (var split in new[] { 1, 7, 8, 9, 33, 101, 257, 555, bytes.Length - 1 })
        {
            Assert.Equal(["text:" + text], ReaderDriver.Run([bytes[..split], bytes[split..]]));
        }
    }

    [Fact]
    public void Incomplete_frame_header_consumes_nothing()
    {
        var frame = ClientFrame.Build(WebSocketOpcode.Text, new byte[300]); // 16-bit length, header 8 bytes
        using var reader = new WebSocketProtocolReader(ReaderDriver.DefaultLimits);
        for (var prefix = 0; prefix < 8; prefix++)
        {
            var buffer = new ReadOnlySequence<byte>(frame, 0, prefix);
            Assert.False(reader.TryRead(ref buffer, out _));
            Assert.Equal(prefix, buffer.Length);
        }
    }

    [Fact]
    public void Incomplete_control_frame_consumes_nothing_until_its_payload_is_complete()
    {
        var frame = ClientFrame.Build(WebSocketOpcode.Ping, [1, 2, 3, 4, 5]);
        using var reader = new WebSocketProtocolReader(ReaderDriver.DefaultLimits);
        for (var prefix = 0; prefix < frame.Length; prefix++)
        {
            var buffer = new ReadOnlySequence<byte>(frame, 0, prefix);
            Assert.False(reader.TryRead(ref buffer, out _));
            Assert.Equal(prefix, buffer.Length);
        }
        var whole = new ReadOnlySequence<byte>(frame);
        Assert.True(reader.TryRead(ref whole, out var ev));
        Assert.Equal(WebSocketEventKind.Ping, ev.Kind);
        Assert.Equal(0, whole.Length);
    }

    [Fact]
    public void Data_payload_is_consumed_as_it_arrives_so_the_pipe_does_not_hold_the_message()
    {
        var frame = ClientFrame.Text(new string('z', 1000));
        using var reader = new WebSocketProtocolReader(ReaderDriver.DefaultLimits);
        var buffer = new ReadOnlySequence<byte>(frame, 0, 500);
        Assert.False(reader.TryRead(ref buffer, out _));
        Assert.Equal(0, buffer.Length);
        Assert.True(reader.IsInsideMessage);
    }

    [Fact]
    public void Reader_returns_false_after_close()
    {
        byte[] bytes = ClientFrame.Concat(
            [0x88, 0x80, 0x00, 0x00, 0x00, 0x00], // FIN=1 CLOSE MASK=1 len=0
            ClientFrame.Text("after"));
        using var reader = new WebSocketProtocolReader(ReaderDriver.DefaultLimits);
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.True(reader.TryRead(ref buffer, out var ev));
        Assert.Equal(WebSocketEventKind.Close, ev.Kind);
        Assert.False(reader.TryRead(ref buffer, out _));
        Assert.True(reader.IsFinished);
    }

    [Fact]
    public void Large_message_in_64_byte_fragments_is_accepted_within_max_continuation_size()
    {
        const int size = 4 * 1024 * 1024;
        var limits = new WebSocketReaderLimits(size, size);
        var chunk = Encoding.ASCII.GetBytes(new string('m', 64));
        var frames = new List<byte[]>(size / 64);
        for (var i = 0; i < size / 64; i++)
        {
            frames.Add(ClientFrame.Build(i == 0 ? WebSocketOpcode.Text : WebSocketOpcode.Continuation, chunk, fin: i == size / 64 - 1));
        }
        var events = ReaderDriver.RunSequence(new ReadOnlySequence<byte>(ClientFrame.Concat([.. frames])), limits);
        Assert.Single(events);
        Assert.Equal(5 + size, events[0].Length);
    }

    [Fact]
    public void A_message_exactly_at_the_size_limit_is_accepted()
    {
        var limits = new WebSocketReaderLimits(10, 10);
        Assert.Equal(["text:0123456789"], ReaderDriver.Run(ClientFrame.Text("0123456789"), limits));
    }

    [Fact]
    public void Payload_buffers_are_returned_to_the_pool_exactly_once()
    {
        var pool = new TrackingPool();
        var reader = new WebSocketProtocolReader(ReaderDriver.DefaultLimits, pool);
        var bytes = ClientFrame.Concat(
            ClientFrame.Text("one"),
            ClientFrame.Text("tw", fin: false),
            ClientFrame.Continuation(new string('o', 5000), fin: true), // grows the fragment buffer
            ClientFrame.Text("unfinished", fin: false));
        var buffer = new ReadOnlySequence<byte>(bytes);
        while (reader.TryRead(ref buffer, out _))
        {
        }
        reader.Dispose();
        reader.Dispose();
        Assert.True(pool.Rented > 0);
        Assert.Equal(pool.Rented, pool.Returned);
    }

    [Fact]
    public void Announced_but_unsent_payload_does_not_reserve_memory()
    {
        var pool = new TrackingPool();
        using var reader = new WebSocketProtocolReader(ReaderDriver.DefaultLimits, pool);
        // FIN=1 TEXT MASK=1 len=1,000,000 (64-bit) key=0, followed by only 10 payload bytes.
        byte[] bytes = [0x81, 0xFF, 0, 0, 0, 0, 0, 0x0F, 0x42, 0x40, 0, 0, 0, 0, .. "0123456789"u8];
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.False(reader.TryRead(ref buffer, out _));
        Assert.InRange(pool.LargestRent, 10, 4096);
    }

    [Fact]
    public void A_single_frame_whose_payload_is_all_here_gets_an_exact_buffer()
    {
        var pool = new TrackingPool();
        using var reader = new WebSocketProtocolReader(ReaderDriver.DefaultLimits, pool);
        var buffer = new ReadOnlySequence<byte>(ClientFrame.Text(new string('e', 10_000)));
        Assert.True(reader.TryRead(ref buffer, out var ev));
        Assert.Equal(10_000, ev.Payload.Length);
        Assert.Equal(10_000, pool.LargestRent);
    }

    /// <summary>A pool that fails on a double return and counts rents and returns (STYLE "pooling is checked by tests").</summary>
    private sealed class TrackingPool : ArrayPool<byte>
    {
        private readonly HashSet<byte[]> _out = new(ReferenceEqualityComparer.Instance);

        public int Rented { get; private set; }

        public int Returned { get; private set; }

        public int LargestRent { get; private set; }

        public override byte[] Rent(int minimumLength)
        {
            var array = new byte[minimumLength];
            _out.Add(array);
            Rented++;
            LargestRent = Math.Max(LargestRent, minimumLength);
            return array;
        }

        public override void Return(byte[] array, bool clearArray = false)
        {
            Assert.True(_out.Remove(array), "Buffer returned twice or never rented.");
            Returned++;
        }
    }
}
