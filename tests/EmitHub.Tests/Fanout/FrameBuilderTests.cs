using System.Text;
using System.Text.Json;
using EmitHub.Core.Fanout;
using EmitHub.Net.WebSockets;

namespace EmitHub.Tests.Fanout;

public class FrameBuilderTests
{
    [Theory]
    [InlineData(0, "8100")]
    [InlineData(125, "817D")]
    [InlineData(126, "817E007E")]
    [InlineData(70_000, "817F0000000000011170")]
    public void Payload_is_framed_in_place_with_the_header_right_before_it(int length, string headerHex)
    {
        using var builder = new FrameBuilder(WebSocketFrameEncoder.Instance, initialPayloadCapacity: 16);
        var payload = Encoding.ASCII.GetBytes(new string('p', length));
        // Write in small pieces so the buffer has to grow.
        for (var i = 0; i < payload.Length; i += 1000)
        {
            var piece = payload.AsSpan(i, Math.Min(1000, payload.Length - i));
            piece.CopyTo(builder.GetSpan(piece.Length));
            builder.Advance(piece.Length);
        }
        Assert.Equal(length, builder.PayloadLength);

        var message = builder.Build(sequence: 7);
        Assert.Equal(7, message.Sequence);
        var frame = message.Frame.Span;
        var headerLength = headerHex.Length / 2;
        Assert.Equal(headerHex, Convert.ToHexString(frame[..headerLength]));
        Assert.True(frame[headerLength..].SequenceEqual(payload));
        Assert.Equal(1, message.RefCount);
        message.Release();
    }

    [Fact]
    public void Utf8JsonWriter_serializes_straight_into_the_frame_and_the_builder_is_reusable()
    {
        using var builder = new FrameBuilder(WebSocketFrameEncoder.Instance);
        using var json = new Utf8JsonWriter(builder);
        for (var i = 1; i <= 3; i++)
        {
            json.Reset(builder);
            json.WriteStartObject();
            json.WriteString("status", "broadcast");
            json.WriteNumber("sequence", i);
            json.WriteEndObject();
            json.Flush();

            var message = builder.Build(i);
            var expected = $"{{\"status\":\"broadcast\",\"sequence\":{i}}}";
            Assert.Equal(0x81, message.Frame.Span[0]);
            Assert.Equal(expected.Length, message.Frame.Span[1]);
            Assert.Equal(expected, Encoding.UTF8.GetString(message.Frame.Span[2..]));
            message.Release();
        }
    }

    [Fact]
    public void Reset_discards_a_half_written_payload()
    {
        using var builder = new FrameBuilder(WebSocketFrameEncoder.Instance);
        "junk"u8.CopyTo(builder.GetSpan(4));
        builder.Advance(4);
        builder.Reset();
        "ok"u8.CopyTo(builder.GetSpan(2));
        builder.Advance(2);
        var message = builder.Build();
        Assert.Equal("81026F6B", Convert.ToHexString(message.Frame.Span));
        message.Release();
    }
}
