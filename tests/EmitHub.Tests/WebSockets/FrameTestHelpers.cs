using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using EmitHub.Net.WebSockets;

namespace EmitHub.Tests.WebSockets;

/// <summary>A segment of a multi-segment <see cref="ReadOnlySequence{T}"/> built from chunks.</summary>
internal sealed class TestSegment : ReadOnlySequenceSegment<byte>
{
    public TestSegment(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public TestSegment Append(ReadOnlyMemory<byte> memory)
    {
        var next = new TestSegment(memory, RunningIndex + Memory.Length);
        Next = next;
        return next;
    }

    public static ReadOnlySequence<byte> Create(params ReadOnlyMemory<byte>[] chunks)
    {
        if (chunks.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }
        var first = new TestSegment(chunks[0], 0);
        var last = first;
        for (var i = 1; i < chunks.Length; i++)
        {
            last = last.Append(chunks[i]);
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    public static ReadOnlySequence<byte> OneBytePerSegment(byte[] data)
    {
        var chunks = new ReadOnlyMemory<byte>[data.Length];
        for (var i = 0; i < data.Length; i++)
        {
            chunks[i] = data.AsMemory(i, 1);
        }
        return Create(chunks);
    }
}

/// <summary>
/// Drives a <see cref="WebSocketProtocolReader"/> the way a connection loop does: bytes arrive in pieces, each
/// arrival is appended to what was not consumed, and the reader is called until it returns false.
/// Events are recorded as readable strings so scenarios compare exactly.
/// </summary>
internal static class ReaderDriver
{
    public static readonly WebSocketReaderLimits DefaultLimits = new(1024 * 1024, 1024 * 1024);

    /// <summary>Feeds the arrivals one after another; each arrival's view of the buffer is a multi-segment sequence
    /// (leftover, then the new chunk) when <paramref name="segmented"/>.</summary>
    public static List<string> Run(IEnumerable<byte[]> arrivals, WebSocketReaderLimits? limits = null, bool segmented = true)
    {
        using var reader = new WebSocketProtocolReader(limits ?? DefaultLimits);
        var events = new List<string>();
        byte[] leftover = [];
        foreach (var arrival in arrivals)
        {
            var buffer = segmented && leftover.Length > 0
                ? TestSegment.Create(leftover, arrival)
                : new ReadOnlySequence<byte>([.. leftover, .. arrival]);
            var total = buffer.Length;
            while (reader.TryRead(ref buffer, out var ev))
            {
                events.Add(Describe(ev));
            }
            Assert.True(buffer.Length <= total);
            leftover = buffer.ToArray();
        }
        if (reader.IsFinished)
        {
            events.Add("finished");
        }
        return events;
    }

    /// <summary>Feeds one sequence (possibly multi-segment) in one go.</summary>
    public static List<string> RunSequence(ReadOnlySequence<byte> buffer, WebSocketReaderLimits? limits = null)
    {
        using var reader = new WebSocketProtocolReader(limits ?? DefaultLimits);
        var events = new List<string>();
        while (reader.TryRead(ref buffer, out var ev))
        {
            events.Add(Describe(ev));
        }
        if (reader.IsFinished)
        {
            events.Add("finished");
        }
        return events;
    }

    public static List<string> Run(byte[] data, WebSocketReaderLimits? limits = null) => Run([data], limits);

    public static string Describe(WebSocketReadEvent ev) => ev.Kind switch
    {
        WebSocketEventKind.Text => "text:" + Encoding.UTF8.GetString(ev.Payload.Span),
        WebSocketEventKind.Ping => "ping:" + Convert.ToHexString(ev.Payload.Span),
        WebSocketEventKind.Pong => "pong:" + Convert.ToHexString(ev.Payload.Span),
        WebSocketEventKind.Close => $"close:{ev.CloseCode}:{ev.GetCloseReason()}",
        WebSocketEventKind.ProtocolError => $"error:{ev.CloseCode}:{ev.Error}",
        _ => "none",
    };
}

/// <summary>Builds client frames (masked by default) for scenario tests; byte-level tests spell bytes out instead.</summary>
internal static class ClientFrame
{
    public static readonly byte[] DefaultKey = [0x37, 0xFA, 0x21, 0x3D];

    public static byte[] Build(WebSocketOpcode opcode, ReadOnlySpan<byte> payload, bool fin = true, byte[]? key = null, bool masked = true, int forceLengthBytes = -1)
    {
        key ??= DefaultKey;
        var lengthBytes = forceLengthBytes >= 0 ? forceLengthBytes : payload.Length <= 125 ? 0 : payload.Length <= ushort.MaxValue ? 2 : 8;
        var frame = new List<byte>
        {
            (byte)((fin ? 0x80 : 0) | (byte)opcode),
        };
        var maskBit = masked ? 0x80 : 0;
        switch (lengthBytes)
        {
            case 0:
                frame.Add((byte)(maskBit | payload.Length));
                break;
            case 2:
                frame.Add((byte)(maskBit | 126));
                frame.Add((byte)(payload.Length >> 8));
                frame.Add((byte)payload.Length);
                break;
            default:
                frame.Add((byte)(maskBit | 127));
                Span<byte> len = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64BigEndian(len, (ulong)payload.Length);
                frame.AddRange(len.ToArray());
                break;
        }
        if (masked)
        {
            frame.AddRange(key);
        }
        for (var i = 0; i < payload.Length; i++)
        {
            frame.Add(masked ? (byte)(payload[i] ^ key[i & 3]) : payload[i]);
        }
        return [.. frame];
    }

    public static byte[] Text(string text, bool fin = true) => Build(WebSocketOpcode.Text, Encoding.UTF8.GetBytes(text), fin);

    public static byte[] Continuation(string text, bool fin) => Build(WebSocketOpcode.Continuation, Encoding.UTF8.GetBytes(text), fin);

    public static byte[] Concat(params byte[][] frames) => [.. frames.SelectMany(f => f)];
}
