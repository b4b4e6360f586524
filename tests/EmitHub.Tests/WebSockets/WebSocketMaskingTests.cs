using System.Buffers.Binary;
using EmitHub.Net.WebSockets;

namespace EmitHub.Tests.WebSockets;

public class WebSocketMaskingTests
{
    private static readonly byte[] s_key = [0x37, 0xFA, 0x21, 0x3D];

    private static byte[] Reference(byte[] data, int keyOffset)
    {
        var result = (byte[])data.Clone();
        for (var i = 0; i < result.Length; i++)
        {
            result[i] ^= s_key[(keyOffset + i) & 3];
        }
        return result;
    }

    [Fact]
    public void Vectorized_masking_matches_the_byte_by_byte_definition_for_every_length_and_key_offset()
    {
        var key = BinaryPrimitives.ReadUInt32LittleEndian(s_key);
        var random = new Random(6455);
        for (var length = 0; length <= 130; length++)
        {
            var data = new byte[length];
            random.NextBytes(data);
            for (var offset = 0; offset < 4; offset++)
            {
                var actual = (byte[])data.Clone();
                var next = WebSocketMasking.Apply(actual, key, offset);
                Assert.Equal(Reference(data, offset), actual);
                Assert.Equal((offset + length) & 3, next);
            }
        }
    }

    [Fact]
    public void Masking_in_pieces_carries_the_key_offset()
    {
        var key = BinaryPrimitives.ReadUInt32LittleEndian(s_key);
        var data = new byte[1000];
        new Random(1).NextBytes(data);
        var expected = Reference(data, 0);
        foreach (var cut in new[] { 1, 3, 5, 31, 33, 63, 65, 999 })
        {
            var actual = (byte[])data.Clone();
            var offset = WebSocketMasking.Apply(actual.AsSpan(0, cut), key, 0);
            WebSocketMasking.Apply(actual.AsSpan(cut), key, offset);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void Rfc_6455_example_unmasks_to_hello()
    {
        // RFC 6455 §5.7: key 37 fa 21 3d, masked "Hello" = 7f 9f 4d 51 58.
        byte[] payload = [0x7F, 0x9F, 0x4D, 0x51, 0x58];
        WebSocketMasking.Apply(payload, BinaryPrimitives.ReadUInt32LittleEndian(s_key), 0);
        Assert.Equal("Hello"u8.ToArray(), payload);
    }
}
