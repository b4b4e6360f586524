using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace EmitHub.Net.WebSockets;

/// <summary>
/// Incremental UTF-8 validation (RFC 3629) for a text message that arrives in pieces (fragments, pipe segments).
/// A code point split across pieces is carried over (at most 3 bytes). Fails fast: a piece whose bytes can no
/// longer be the prefix of valid UTF-8 is rejected at once, without waiting for the rest of the message
/// (RFC 6455 §8.1, SPEC §3). Bulk validation uses the vectorized <see cref="Utf8.IsValid(ReadOnlySpan{byte})"/>.
/// </summary>
public struct Utf8Validator
{
    // The bytes of an incomplete trailing code point, low byte first; _pendingCount of them.
    private uint _pending;
    private int _pendingCount;

    /// <summary>True when the bytes so far end on a code point boundary (a message may end here).</summary>
    public readonly bool IsComplete => _pendingCount == 0;

    /// <summary>Forgets any carried-over bytes; call at the start of a new message.</summary>
    public void Reset()
    {
        _pending = 0;
        _pendingCount = 0;
    }

    /// <summary>
    /// Validates the next piece of the message. Returns false as soon as the bytes seen so far cannot be a prefix
    /// of valid UTF-8 (the validator is then in an undefined state). Returns true otherwise, including when
    /// <paramref name="bytes"/> ends inside a code point.
    /// </summary>
    public bool TryAppend(ReadOnlySpan<byte> bytes)
    {
        if (_pendingCount != 0)
        {
            if (!TryCompletePending(ref bytes))
            {
                return false;
            }
            if (bytes.IsEmpty)
            {
                return true;
            }
        }

        var tail = IncompleteTailLength(bytes);
        if (!Utf8.IsValid(bytes[..^tail]))
        {
            return false;
        }
        if (tail == 0)
        {
            return true;
        }

        var tailBytes = bytes[^tail..];
        if (Rune.DecodeFromUtf8(tailBytes, out _, out _) != OperationStatus.NeedMoreData)
        {
            return false;
        }
        for (var i = 0; i < tailBytes.Length; i++)
        {
            _pending |= (uint)tailBytes[i] << (8 * i);
        }
        _pendingCount = tail;
        return true;
    }

    /// <summary>Validates a whole, self-contained byte sequence (e.g. a close reason).</summary>
    public static bool IsValid(ReadOnlySpan<byte> bytes) => Utf8.IsValid(bytes);

    private bool TryCompletePending(ref ReadOnlySpan<byte> bytes)
    {
        Span<byte> sequence = stackalloc byte[4];
        for (var i = 0; i < _pendingCount; i++)
        {
            sequence[i] = (byte)(_pending >> (8 * i));
        }
        var needed = SequenceLength(sequence[0]);
        var take = Math.Min(needed - _pendingCount, bytes.Length);
        bytes[..take].CopyTo(sequence[_pendingCount..]);
        var filled = _pendingCount + take;
        var status = Rune.DecodeFromUtf8(sequence[..filled], out _, out var consumed);
        if (status == OperationStatus.Done && consumed == needed)
        {
            _pending = 0;
            _pendingCount = 0;
            bytes = bytes[take..];
            return true;
        }
        if (status == OperationStatus.NeedMoreData && take == bytes.Length)
        {
            _pending = 0;
            for (var i = 0; i < filled; i++)
            {
                _pending |= (uint)sequence[i] << (8 * i);
            }
            _pendingCount = filled;
            bytes = default;
            return true;
        }
        return false;
    }

    // Length of a code point that starts at the last lead byte and runs past the end of `bytes`, else 0.
    // Lead bytes that are invalid (0x80-0xC1, 0xF5-0xFF) yield 0 so that Utf8.IsValid rejects them.
    private static int IncompleteTailLength(ReadOnlySpan<byte> bytes)
    {
        var limit = Math.Min(bytes.Length, 3);
        for (var back = 1; back <= limit; back++)
        {
            var b = bytes[^back];
            if ((b & 0xC0) == 0x80)
            {
                continue; // continuation byte: keep looking for the lead byte
            }
            var length = SequenceLength(b);
            return length > back ? back : 0;
        }
        return 0;
    }

    private static int SequenceLength(byte lead) => lead switch
    {
        < 0x80 => 1,
        >= 0xC2 and <= 0xDF => 2,
        >= 0xE0 and <= 0xEF => 3,
        >= 0xF0 and <= 0xF4 => 4,
        _ => 0,
    };
}
