using System.Buffers;
using BenchmarkDotNet.Attributes;
using EmitHub.Net.WebSockets;

namespace EmitHub.Benchmarks;

/// <summary>Reading one masked client text frame: header parse, unmask into the pooled message buffer, incremental UTF-8 validation.</summary>
[MemoryDiagnoser]
public class FrameReadBenchmarks
{
    private WebSocketProtocolReader _reader = null!;
    private ReadOnlySequence<byte> _frame;

    /// <summary>Payload bytes of the text frame: a small chat-sized message and 64 KiB.</summary>
    [Params(32, 64 * 1024)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _reader = new WebSocketProtocolReader(new WebSocketReaderLimits(1 << 20, 1 << 20));
        var payload = new byte[PayloadSize];
        for (var i = 0; i < payload.Length; i++)
        {
            // Mixed ASCII and 2-byte code points ("é" = C3 A9) so validation leaves the pure-ASCII path.
            payload[i] = (i % 64) switch { 62 => 0xC3, 63 => 0xA9, _ => (byte)('a' + (i % 26)) };
        }
        byte[] key = [0x37, 0xFA, 0x21, 0x3D];
        var headerLength = PayloadSize <= 125 ? 2 : PayloadSize <= ushort.MaxValue ? 4 : 10;
        var frame = new byte[headerLength + 4 + PayloadSize];
        frame[0] = 0x81;
        if (headerLength == 2)
        {
            frame[1] = (byte)(0x80 | PayloadSize);
        }
        else if (headerLength == 4)
        {
            frame[1] = 0x80 | 126;
            frame[2] = (byte)(PayloadSize >> 8);
            frame[3] = (byte)PayloadSize;
        }
        else
        {
            frame[1] = 0x80 | 127;
            for (var i = 0; i < 8; i++)
            {
                frame[2 + i] = (byte)((long)PayloadSize >> (8 * (7 - i)));
            }
        }
        key.CopyTo(frame, headerLength);
        for (var i = 0; i < PayloadSize; i++)
        {
            frame[headerLength + 4 + i] = (byte)(payload[i] ^ key[i & 3]);
        }
        _frame = new ReadOnlySequence<byte>(frame);
    }

    [GlobalCleanup]
    public void Cleanup() => _reader.Dispose();

    [Benchmark]
    public int ReadUnmaskValidate()
    {
        var buffer = _frame;
        if (!_reader.TryRead(ref buffer, out var ev) || ev.Kind != WebSocketEventKind.Text)
        {
            throw new InvalidOperationException("Expected a text message.");
        }
        return ev.Payload.Length;
    }
}
