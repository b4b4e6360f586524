using System.Buffers;
using BenchmarkDotNet.Attributes;
using EmitHub.Core.Fanout;
using EmitHub.Net.WebSockets;

namespace EmitHub.Benchmarks;

/// <summary>Writing server frames: the text header alone, a whole pooled frame via <see cref="FrameBuilder"/>, and a pong.</summary>
[MemoryDiagnoser]
public class FrameWriteBenchmarks
{
    private readonly byte[] _header = new byte[WebSocketFrameEncoder.MaxServerHeaderLength];
    private readonly ArrayBufferWriter<byte> _control = new(256);
    private FrameBuilder _builder = null!;
    private byte[] _payload = null!;

    /// <summary>Payload bytes of the text frame.</summary>
    [Params(200, 64 * 1024)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _builder = new FrameBuilder(WebSocketFrameEncoder.Instance);
        _payload = new byte[PayloadSize];
        Array.Fill(_payload, (byte)'x');
    }

    [GlobalCleanup]
    public void Cleanup() => _builder.Dispose();

    [Benchmark]
    public int TextHeader()
    {
        var encoder = WebSocketFrameEncoder.Instance;
        var length = encoder.GetTextHeaderLength(PayloadSize);
        encoder.WriteTextHeader(_header.AsSpan(0, length), PayloadSize);
        return length;
    }

    [Benchmark]
    public int BuildPooledFrame()
    {
        _payload.CopyTo(_builder.GetSpan(_payload.Length));
        _builder.Advance(_payload.Length);
        var message = _builder.Build();
        var length = message.Length;
        message.Release();
        return length;
    }

    [Benchmark]
    public int Pong()
    {
        _control.ResetWrittenCount();
        return WebSocketFrameEncoder.WritePong(_control, "keepalive"u8);
    }
}
