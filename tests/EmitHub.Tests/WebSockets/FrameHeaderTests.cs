using System.Buffers;
using EmitHub.Net.WebSockets;

namespace EmitHub.Tests.WebSockets;

public class FrameHeaderTests
{
    public static TheoryData<string, bool, byte, byte, bool, long, uint, int> Headers => new()
    {
        // hex, fin, rsv, opcode, masked, length, key (LE), header length
        { "8185" + "37FA213D", true, 0, 0x1, true, 5, 0x3D21FA37, 6 },                       // FIN=1 TEXT MASK=1 len=5
        { "0100", false, 0, 0x1, false, 0, 0, 2 },                                            // FIN=0 TEXT MASK=0 len=0
        { "F27D", true, 7, 0x2, false, 125, 0, 2 },                                           // FIN=1 RSV=111 BINARY len=125
        { "89FE007E" + "01020304", true, 0, 0x9, true, 126, 0x04030201, 8 },                  // FIN=1 PING MASK=1 len=126 (16-bit)
        { "80FEFFFF" + "00000000", true, 0, 0x0, true, 65535, 0, 8 },                         // FIN=1 CONT MASK=1 len=65535
        { "81FF0000000000010000" + "AABBCCDD", true, 0, 0x1, true, 65536, 0xDDCCBBAA, 14 },   // FIN=1 TEXT MASK=1 len=65536 (64-bit)
        { "817F7FFFFFFFFFFFFFFF", true, 0, 0x1, false, long.MaxValue, 0, 10 },                // largest legal 64-bit length
        { "817E0005", true, 0, 0x1, false, 5, 0, 4 },                                         // non-minimal 16-bit length is accepted
        { "8F00", true, 0, 0xF, false, 0, 0, 2 },                                             // reserved opcode parses; the reader refuses it
    };

    [Theory]
    [MemberData(nameof(Headers))]
    public void Header_fields_parse_whole_split_and_one_byte_per_segment(string hex, bool fin, byte rsv, byte opcode, bool masked, long length, uint key, int headerLength)
    {
        var bytes = Convert.FromHexString(hex + "EEEE"); // trailing payload bytes must not be consumed
        var sequences = new List<ReadOnlySequence<byte>> { new(bytes), TestSegment.OneBytePerSegment(bytes) };
        for (var split = 0; split <= bytes.Length; split++)
        {
            sequences.Add(TestSegment.Create(bytes.AsMemory(0, split), bytes.AsMemory(split)));
        }

        foreach (var sequence in sequences)
        {
            var reader = new SequenceReader<byte>(sequence);
            Assert.True(FrameHeader.TryReadFrameHeader(ref reader, out var header, out var error));
            Assert.Equal(WebSocketProtocolError.None, error);
            Assert.Equal((fin, rsv, opcode, masked, length, key, headerLength),
                (header.Fin, header.Rsv, (byte)header.Opcode, header.Masked, header.PayloadLength, header.MaskingKey, header.HeaderLength));
            Assert.Equal(headerLength, reader.Consumed);
        }
    }

    [Theory]
    [MemberData(nameof(Headers))]
    public void Every_prefix_of_a_header_returns_false_and_consumes_nothing(string hex, bool fin, byte rsv, byte opcode, bool masked, long length, uint key, int headerLength)
    {
        _ = (fin, rsv, opcode, masked, length, key);
        var bytes = Convert.FromHexString(hex);
        for (var prefix = 0; prefix < headerLength; prefix++)
        {
            foreach (var sequence in new[] { new ReadOnlySequence<byte>(bytes, 0, prefix), TestSegment.OneBytePerSegment(bytes[..prefix]) })
            {
                var reader = new SequenceReader<byte>(sequence);
                Assert.False(FrameHeader.TryReadFrameHeader(ref reader, out _, out var error));
                Assert.Equal(WebSocketProtocolError.None, error);
                Assert.Equal(0, reader.Consumed);
            }
        }
    }

    [Fact]
    public void Sixty_four_bit_length_with_msb_set_is_an_error_and_consumes_nothing()
    {
        var bytes = Convert.FromHexString("81FF8000000000000000" + "00000000"); // FIN=1 TEXT MASK=1 len=2^63
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        Assert.False(FrameHeader.TryReadFrameHeader(ref reader, out _, out var error));
        Assert.Equal(WebSocketProtocolError.InvalidPayloadLength, error);
        Assert.Equal(0, reader.Consumed);
    }
}
