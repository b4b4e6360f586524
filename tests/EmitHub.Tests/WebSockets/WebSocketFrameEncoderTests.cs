using System.Buffers;
using System.Text;
using EmitHub.Net.WebSockets;

namespace EmitHub.Tests.WebSockets;

public class WebSocketFrameEncoderTests
{
    private static readonly WebSocketReaderLimits s_serverFrames = new(1 << 20, 1 << 20, RequireMaskedFrames: false);

    [Theory]
    [InlineData(0, "8100")]
    [InlineData(5, "8105")]
    [InlineData(125, "817D")]
    [InlineData(126, "817E007E")]
    [InlineData(65535, "817EFFFF")]
    [InlineData(65536, "817F0000000000010000")]
    [InlineData(4294967296, "817F0000000100000000")]
    public void Text_header_uses_the_minimal_length_form(long length, string expectedHex)
    {
        var encoder = WebSocketFrameEncoder.Instance;
        var header = new byte[encoder.GetTextHeaderLength(length)];
        encoder.WriteTextHeader(header, length);
        Assert.Equal(expectedHex, Convert.ToHexString(header));
        Assert.Equal(10, encoder.MaxHeaderLength);
    }

    [Fact]
    public void Close_frame_carries_code_and_reason()
    {
        var writer = new ArrayBufferWriter<byte>();
        WebSocketFrameEncoder.WriteClose(writer, 1008, "slow consumer");
        // FIN=1 CLOSE MASK=0 len=15, code 03F0, reason
        Assert.Equal("880F03F0" + Convert.ToHexString("slow consumer"u8), Convert.ToHexString(writer.WrittenSpan));
    }

    [Fact]
    public void Close_1005_echo_has_an_empty_payload()
    {
        var writer = new ArrayBufferWriter<byte>();
        WebSocketFrameEncoder.WriteClose(writer, WebSocketCloseCodes.NoStatusReceived, "ignored");
        Assert.Equal("8800", Convert.ToHexString(writer.WrittenSpan));
    }

    [Fact]
    public void Long_close_reason_is_cut_to_123_bytes_on_a_code_point_boundary()
    {
        var reason = new string('a', 122) + "€€";
        Span<byte> frame = stackalloc byte[WebSocketFrameEncoder.MaxControlFrameLength];
        var length = WebSocketFrameEncoder.WriteClose(frame, 1000, reason);
        Assert.Equal(2 + 2 + 122, length); // € (3 bytes) would pass 123, so only the a's fit
        Assert.Equal(new string('a', 122), Encoding.UTF8.GetString(frame[4..length]));

        var writer = new ArrayBufferWriter<byte>();
        WebSocketFrameEncoder.WriteCloseUtf8(writer, 1000, Encoding.UTF8.GetBytes(reason));
        Assert.Equal(frame[..length].ToArray(), writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void Server_frames_round_trip_through_the_reader()
    {
        var writer = new ArrayBufferWriter<byte>();
        WebSocketFrameEncoder.WritePing(writer, [1, 2]);
        WebSocketFrameEncoder.WritePong(writer, [3]);
        var text = Encoding.UTF8.GetBytes(new string('x', 70_000));
        var header = new byte[10];
        var headerLength = WebSocketFrameEncoder.WriteHeader(header, WebSocketOpcode.Text, text.Length);
        writer.Write(header.AsSpan(0, headerLength));
        writer.Write(text);
        WebSocketFrameEncoder.WriteClose(writer, 1001, "bye");

        var events = ReaderDriver.Run(writer.WrittenSpan.ToArray(), s_serverFrames);
        Assert.Equal(["ping:0102", "pong:03", "text:" + new string('x', 70_000), "close:1001:bye", "finished"], events);
    }

    [Fact]
    public void Control_payload_over_125_bytes_is_refused()
    {
        var writer = new ArrayBufferWriter<byte>();
        Assert.Throws<ArgumentException>(() => WebSocketFrameEncoder.WritePing(writer, new byte[126]));
    }

    [Fact]
    public void Close_message_is_a_pooled_outbound_message()
    {
        var message = WebSocketFrameEncoder.CreateCloseMessage(1001, "stopped");
        Assert.Equal("880903E9" + Convert.ToHexString("stopped"u8), Convert.ToHexString(message.Frame.Span));
        Assert.Equal(1, message.RefCount);
        message.Release();
    }

    [Fact]
    public void Each_recorded_ping_is_answered_once_by_its_own_pong()
    {
        var pending = new PendingPong();
        var writer = new ArrayBufferWriter<byte>();
        Assert.Equal(0, pending.WritePongs(writer));

        Assert.True(pending.OnPing([1]));
        Assert.False(pending.OnPing([3, 3]));
        Assert.True(pending.HasPending);
        Assert.Equal(0, pending.ReplacedCount);

        Assert.Equal(2, pending.WritePongs(writer));
        Assert.Equal("8A0101" + "8A020303", Convert.ToHexString(writer.WrittenSpan)); // FIN=1 PONG len=1 01, FIN=1 PONG len=2 0303
        Assert.Equal(0, pending.WritePongs(writer));
        Assert.False(pending.HasPending);
        Assert.True(pending.OnPing([]));
    }
}
