using System.IO.Compression;
using System.Text;
using EmitHub.Net.WebSockets;
using EmitHub.Tests.WebSockets;

namespace EmitHub.Tests.Compression;

/// <summary>The frame reader with permessage-deflate negotiated (RFC 7692 §6, §7.2.2): RSV1 messages are inflated,
/// bounded by message_size_limit; RSV1 where it does not belong is 1002.</summary>
public class PerMessageDeflateReaderTests
{
    private static readonly WebSocketReaderLimits s_deflate = ReaderDriver.DefaultLimits with { PerMessageDeflate = true };

    /// <summary>Raw DEFLATE with a sync flush and the trailing 00 00 ff ff removed, as a client sends it.</summary>
    internal static byte[] Deflate(ReadOnlySpan<byte> payload, DeflateStream? context = null, MemoryStream? output = null)
    {
        output ??= new MemoryStream();
        output.SetLength(0);
        var deflate = context ?? new DeflateStream(output, CompressionLevel.Optimal, leaveOpen: true);
        deflate.Write(payload);
        deflate.Flush();
        var bytes = output.ToArray();
        Assert.Equal([0x00, 0x00, 0xFF, 0xFF], bytes[^4..]);
        if (context is null)
        {
            deflate.Dispose();
        }
        return bytes[..^4];
    }

    internal static byte[] CompressedFrame(byte[] compressedPayload, bool fin = true, WebSocketOpcode opcode = WebSocketOpcode.Text)
    {
        var frame = ClientFrame.Build(opcode, compressedPayload, fin);
        frame[0] |= 0x40; // RSV1
        return frame;
    }

    [Fact]
    public void A_compressed_text_message_is_inflated_and_delivered()
    {
        var text = string.Concat(Enumerable.Repeat("{\"status\":\"broadcast\",\"message\":\"A004\"} ", 20));
        var events = ReaderDriver.Run(CompressedFrame(Deflate(Encoding.UTF8.GetBytes(text))), s_deflate);
        Assert.Equal(["text:" + text], events);
    }

    [Fact]
    public void A_compressed_message_may_be_fragmented_with_RSV1_on_the_first_frame_only()
    {
        var compressed = Deflate(Encoding.UTF8.GetBytes("fragmented and compressed"));
        var first = CompressedFrame(compressed[..5], fin: false);
        var rest = ClientFrame.Build(WebSocketOpcode.Continuation, compressed[5..], fin: true);
        Assert.Equal(["text:fragmented and compressed"], ReaderDriver.Run(ClientFrame.Concat(first, rest), s_deflate));
    }

    [Fact]
    public void With_client_context_takeover_later_messages_refer_back_to_earlier_ones()
    {
        var output = new MemoryStream();
        using var context = new DeflateStream(output, CompressionLevel.Optimal, leaveOpen: true);
        var one = Deflate("the same sentence, repeated across messages"u8, context, output);
        var two = Deflate("the same sentence, repeated across messages"u8, context, output);
        Assert.True(two.Length < one.Length / 2, "the second message must be a back-reference into the first");
        var events = ReaderDriver.Run(ClientFrame.Concat(CompressedFrame(one), CompressedFrame(two), ClientFrame.Text("plain")), s_deflate);
        Assert.Equal(["text:the same sentence, repeated across messages", "text:the same sentence, repeated across messages", "text:plain"], events);
    }

    [Fact]
    public void With_client_no_context_takeover_each_message_inflates_on_its_own()
    {
        var limits = s_deflate with { ClientNoContextTakeover = true };
        var one = Deflate("independent one"u8);
        var two = Deflate("independent two"u8);
        Assert.Equal(["text:independent one", "text:independent two"],
            ReaderDriver.Run(ClientFrame.Concat(CompressedFrame(one), CompressedFrame(two)), limits));
    }

    [Fact]
    public void A_deflate_bomb_is_1009_once_the_inflated_size_passes_the_limit()
    {
        // 8 MiB of zeros compress to about 8 KB; the limit is 64 KiB.
        var bomb = Deflate(new byte[8 * 1024 * 1024]);
        Assert.True(bomb.Length < 16 * 1024);
        var limits = new WebSocketReaderLimits(64 * 1024, 64 * 1024, PerMessageDeflate: true);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var events = ReaderDriver.Run(CompressedFrame(bomb), limits);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal($"error:1009:{WebSocketProtocolError.InflatedMessageTooBig}", events[^2]);
        // Bounded by the limit (pooled buffers up to ~2x it, the inflater's window), never by the 8 MiB it expands to.
        Assert.True(allocated < 2 * 1024 * 1024, $"allocated {allocated} bytes while refusing the bomb");
    }

    [Fact]
    public void Invalid_deflate_data_is_1007()
    {
        var events = ReaderDriver.Run(CompressedFrame([0xFF, 0xFF, 0xFF, 0xFF, 0xFF]), s_deflate);
        Assert.Equal($"error:1007:{WebSocketProtocolError.InvalidCompressedData}", events[^2]);
    }

    [Fact]
    public void Inflated_text_that_is_not_UTF8_is_1007()
    {
        var events = ReaderDriver.Run(CompressedFrame(Deflate([0xC3, 0x28, 0x41, 0x42])), s_deflate);
        Assert.Equal($"error:1007:{WebSocketProtocolError.InvalidUtf8Text}", events[^2]);
    }

    [Theory]
    [InlineData(0xC9)] // FIN=1 RSV1=1 PING: control frames are never compressed
    [InlineData(0xA1)] // RSV2
    [InlineData(0x91)] // RSV3
    public void RSV1_on_a_control_frame_or_RSV2_RSV3_are_1002_even_with_deflate(byte first)
    {
        var events = ReaderDriver.Run([first, 0x80, 0, 0, 0, 0], s_deflate);
        Assert.Equal($"error:1002:{WebSocketProtocolError.CompressedBitMisplaced}", events[^2]);
    }

    [Fact]
    public void RSV1_on_a_continuation_frame_is_1002()
    {
        var start = ClientFrame.Build(WebSocketOpcode.Text, "ab"u8, fin: false);
        var continuation = ClientFrame.Build(WebSocketOpcode.Continuation, "cd"u8, fin: true);
        continuation[0] |= 0x40;
        var events = ReaderDriver.Run(ClientFrame.Concat(start, continuation), s_deflate);
        Assert.Equal($"error:1002:{WebSocketProtocolError.CompressedBitMisplaced}", events[^2]);
    }

    [Fact]
    public void RSV1_without_negotiation_stays_1002()
    {
        var events = ReaderDriver.Run(CompressedFrame(Deflate("x"u8)));
        Assert.Equal($"error:1002:{WebSocketProtocolError.ReservedBitsSet}", events[^2]);
    }
}
