using System.Buffers;

namespace EmitHub.Tests.Infrastructure;

/// <summary>Builds multi-segment <see cref="ReadOnlySequence{T}"/>s so parsers see data split the way sockets deliver it.</summary>
internal static class SegmentedSequence
{
    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous != null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }

    /// <summary>One segment per part (each part copied into its own array).</summary>
    public static ReadOnlySequence<byte> Create(params byte[][] parts)
    {
        if (parts.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }
        Segment first = new(parts[0].ToArray(), null);
        var last = first;
        for (var i = 1; i < parts.Length; i++)
        {
            last = new Segment(parts[i].ToArray(), last);
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Two segments split at <paramref name="index"/>.</summary>
    public static ReadOnlySequence<byte> SplitAt(byte[] bytes, int index) => Create(bytes[..index], bytes[index..]);

    /// <summary>One byte per segment.</summary>
    public static ReadOnlySequence<byte> OneBytePerSegment(byte[] bytes) => Create(bytes.Select(b => new[] { b }).ToArray());
}
