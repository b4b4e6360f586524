using System.Buffers;
using System.Text;
using EmitHub.Net.WebSockets;

namespace EmitHub.Tests.WebSockets;

/// <summary>Seeded randomized checks: random valid traffic decodes exactly however it is cut; random garbage never throws.</summary>
public class WebSocketReaderRandomizedTests
{
    private static readonly string[] s_alphabet = ["a", "Z", " ", "é", "€", "𝄞", "ñ", "\u0800", "\uFFFD", "\U0010FFFF"];

    [Fact]
    public void Random_fragmented_utf8_messages_decode_exactly_under_random_cuts()
    {
        var random = new Random(6455);
        for (var round = 0; round < 300; round++)
        {
            var expected = new List<string>();
            var wire = new List<byte>();
            var messages = random.Next(1, 5);
            for (var m = 0; m < messages; m++)
            {
                var text = string.Concat(Enumerable.Range(0, random.Next(0, 60)).Select(_ => s_alphabet[random.Next(s_alphabet.Length)]));
                var bytes = Encoding.UTF8.GetBytes(text);
                // Cut the message's bytes into fragments at random byte positions (splitting code points on purpose).
                var cuts = Enumerable.Range(0, random.Next(0, 4)).Select(_ => random.Next(0, bytes.Length + 1)).Order().ToArray();
                var start = 0;
                var pieces = new List<byte[]>();
                foreach (var cut in cuts)
                {
                    pieces.Add(bytes[start..cut]);
                    start = cut;
                }
                pieces.Add(bytes[start..]);
                for (var p = 0; p < pieces.Count; p++)
                {
                    var key = new byte[4];
                    random.NextBytes(key);
                    var opcode = p == 0 ? WebSocketOpcode.Text : WebSocketOpcode.Continuation;
                    wire.AddRange(ClientFrame.Build(opcode, pieces[p], fin: p == pieces.Count - 1, key: key, forceLengthBytes: random.Next(4) == 0 ? 8 : -1));
                    if (p < pieces.Count - 1 && random.Next(3) == 0)
                    {
                        wire.AddRange(ClientFrame.Build(WebSocketOpcode.Ping, [(byte)p]));
                        expected.Add("ping:" + Convert.ToHexString([(byte)p]));
                    }
                }
                expected.Add("text:" + text);
            }

            var data = wire.ToArray();
            var arrivals = new List<byte[]>();
            var position = 0;
            while (position < data.Length)
            {
                var size = random.Next(1, 20);
                var end = Math.Min(data.Length, position + size);
                arrivals.Add(data[position..end]);
                position = end;
            }
            Assert.Equal(expected, ReaderDriver.Run(arrivals));
        }
    }

    [Fact]
    public void Random_bytes_never_throw_and_buffers_balance()
    {
        var random = new Random(42);
        for (var round = 0; round < 3000; round++)
        {
            var data = new byte[random.Next(0, 64)];
            random.NextBytes(data);
            if (data.Length > 1 && random.Next(2) == 0)
            {
                data[0] = (byte)(0x80 | random.Next(16)); // often a plausible first byte
                data[1] = (byte)(0x80 | random.Next(128));
            }
            using var reader = new WebSocketProtocolReader(new WebSocketReaderLimits(1 << 16, 1 << 16));
            var buffer = new ReadOnlySequence<byte>(data);
            var events = 0;
            while (reader.TryRead(ref buffer, out var ev))
            {
                Assert.NotEqual(WebSocketEventKind.None, ev.Kind);
                Assert.True(++events < 100);
            }
            Assert.True(buffer.Length <= data.Length);
        }
    }
}
