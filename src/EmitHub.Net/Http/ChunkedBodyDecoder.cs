using System.Buffers;

namespace EmitHub.Net.Http;

/// <summary>
/// Incremental decoder of the chunked transfer coding (RFC 9112 §7.1), I/O-free. Each call consumes only whole
/// elements it could judge (a chunk-size line, available chunk data, the CRLF after data, a trailer line) and
/// returns true once the last chunk and trailer section are read. Chunk extensions must follow the RFC 9112 §7.1.1
/// grammar exactly (else 400 and close: a lenient reader and a strict proxy would disagree on where the body ends) and
/// are then ignored;
/// trailers are validated like field lines and discarded. The body limit is checked from each chunk size before
/// that chunk's data is read.
/// </summary>
public sealed class ChunkedBodyDecoder
{
    private enum State
    {
        ChunkSize,
        ChunkData,
        ChunkDataCrlf,
        Trailers,
        Done,
    }

    private State _state;
    private long _chunkRemaining;
    private long _total;
    private long _trailerBytes;
    private int _trailerCount;

    /// <summary>Decoded body bytes so far.</summary>
    public long DecodedLength => _total;

    /// <summary>Prepares for a new body.</summary>
    public void Reset()
    {
        _state = State.ChunkSize;
        _chunkRemaining = _total = _trailerBytes = 0;
        _trailerCount = 0;
    }

    /// <summary>Decodes what <paramref name="reader"/> holds into <paramref name="body"/>.</summary>
    /// <returns>True when the whole chunked body (with trailers) has been read.</returns>
    /// <exception cref="HttpRequestRejectedException">Malformed chunk line or data, or body over
    /// <paramref name="maxBodyLength"/> (413).</exception>
    public bool TryDecode(ref SequenceReader<byte> reader, IBufferWriter<byte> body, long maxBodyLength, HttpLimits limits)
    {
        while (true)
        {
            switch (_state)
            {
                case State.ChunkSize:
                {
                    var r = reader;
                    if (!r.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n'))
                    {
                        if (r.Remaining > limits.MaxChunkLineLength)
                        {
                            HttpRequestRejectedException.Throw(RequestRejectionReason.ChunkLineTooLong);
                        }
                        return false;
                    }
                    if (line.Length > limits.MaxChunkLineLength)
                    {
                        HttpRequestRejectedException.Throw(RequestRejectionReason.ChunkLineTooLong);
                    }
                    var size = ParseChunkSizeLine(line);
                    if (size > maxBodyLength - _total)
                    {
                        HttpRequestRejectedException.Throw(RequestRejectionReason.BodyTooLarge);
                    }
                    reader = r;
                    _total += size;
                    _chunkRemaining = size;
                    _state = size == 0 ? State.Trailers : State.ChunkData;
                    break;
                }
                case State.ChunkData:
                {
                    if (reader.End)
                    {
                        return false;
                    }
                    var take = Math.Min(_chunkRemaining, reader.Remaining);
                    foreach (var segment in reader.UnreadSequence.Slice(0, take))
                    {
                        body.Write(segment.Span);
                    }
                    reader.Advance(take);
                    _chunkRemaining -= take;
                    if (_chunkRemaining > 0)
                    {
                        return false;
                    }
                    _state = State.ChunkDataCrlf;
                    break;
                }
                case State.ChunkDataCrlf:
                {
                    if (!reader.TryPeek(out var first))
                    {
                        return false;
                    }
                    if (first != (byte)'\r')
                    {
                        HttpRequestRejectedException.Throw(RequestRejectionReason.ChunkDataNotFollowedByCrlf);
                    }
                    if (!reader.TryPeek(1, out var second))
                    {
                        return false;
                    }
                    if (second != (byte)'\n')
                    {
                        HttpRequestRejectedException.Throw(RequestRejectionReason.ChunkDataNotFollowedByCrlf);
                    }
                    reader.Advance(2);
                    _state = State.ChunkSize;
                    break;
                }
                case State.Trailers:
                {
                    var r = reader;
                    if (!r.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n'))
                    {
                        if (_trailerBytes + r.Remaining > limits.MaxHeadersLength)
                        {
                            HttpRequestRejectedException.Throw(RequestRejectionReason.HeadersTooLarge);
                        }
                        return false;
                    }
                    _trailerBytes += line.Length + 1;
                    if (_trailerBytes > limits.MaxHeadersLength)
                    {
                        HttpRequestRejectedException.Throw(RequestRejectionReason.HeadersTooLarge);
                    }
                    var span = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
                    if (span.Length == 0 || span[^1] != (byte)'\r')
                    {
                        HttpRequestRejectedException.Throw(RequestRejectionReason.BareLineFeed);
                    }
                    if (span.Length > 1)
                    {
                        if (++_trailerCount > limits.MaxHeaderCount)
                        {
                            HttpRequestRejectedException.Throw(RequestRejectionReason.TooManyHeaders);
                        }
                        HttpParser.ValidateFieldLine(span[..^1], out _, out _);
                        reader = r;
                        break;
                    }
                    reader = r;
                    _state = State.Done;
                    return true;
                }
                case State.Done:
                    return true;
            }
        }
    }

    private static long ParseChunkSizeLine(in ReadOnlySequence<byte> line)
    {
        var span = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
        if (span.Length == 0 || span[^1] != (byte)'\r')
        {
            HttpRequestRejectedException.Throw(RequestRejectionReason.BareLineFeed);
        }
        span = span[..^1];
        long size = 0;
        var digits = 0;
        while (digits < span.Length && char.IsAsciiHexDigit((char)span[digits]))
        {
            // 15 hex digits exceed any body limit; more would overflow a long.
            if (digits == 15)
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.InvalidChunkSize);
            }
            size = (size << 4) | (long)HexValue(span[digits]);
            digits++;
        }
        if (digits == 0)
        {
            HttpRequestRejectedException.Throw(RequestRejectionReason.InvalidChunkSize);
        }
        var extensions = span[digits..];
        if (extensions.Length > 0)
        {
            // Only "BWS ;" may follow the size: a size followed by whitespace alone, or by anything else, is not 1*HEXDIG.
            var afterBws = extensions.TrimStart(" \t"u8);
            if (afterBws.Length == 0 || afterBws[0] != (byte)';')
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.InvalidChunkSize);
            }
            if (extensions.Contains((byte)'\r'))
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.BareCarriageReturn);
            }
            if (!IsValidChunkExtension(extensions))
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.InvalidChunkExtension);
            }
        }
        return size;
    }

    /// <summary>
    /// True when <paramref name="extension"/> matches RFC 9112 §7.1.1 exactly:
    /// <c>chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )</c>, name a token, value a token or
    /// a quoted-string (RFC 9110 §5.6.2, §5.6.4). BWS is allowed only where the grammar puts it: before ';' and '=' and
    /// after them, never at the end of the line. Extensions are then ignored (we define none).
    /// </summary>
    internal static bool IsValidChunkExtension(ReadOnlySpan<byte> extension)
    {
        var i = 0;
        while (i < extension.Length)
        {
            i = SkipBws(extension, i);
            if (i == extension.Length || extension[i] != (byte)';')
            {
                return false;
            }
            i = SkipBws(extension, i + 1);
            var nameEnd = SkipToken(extension, i);
            if (nameEnd == i)
            {
                return false;
            }
            i = SkipBws(extension, nameEnd);
            if (i < extension.Length && extension[i] == (byte)'=')
            {
                i = SkipBws(extension, i + 1);
                if (i < extension.Length && extension[i] == (byte)'"')
                {
                    if (!TrySkipQuotedString(extension, ref i))
                    {
                        return false;
                    }
                }
                else
                {
                    var valueEnd = SkipToken(extension, i);
                    if (valueEnd == i)
                    {
                        return false;
                    }
                    i = valueEnd;
                }
            }
            else if (i == extension.Length && i != nameEnd)
            {
                return false; // BWS that no ';' or '=' follows
            }
        }
        return true;
    }

    private static int SkipBws(ReadOnlySpan<byte> span, int i)
    {
        while (i < span.Length && span[i] is (byte)' ' or (byte)'\t')
        {
            i++;
        }
        return i;
    }

    private static int SkipToken(ReadOnlySpan<byte> span, int i)
    {
        while (i < span.Length && HttpParser.IsTChar(span[i]))
        {
            i++;
        }
        return i;
    }

    // quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE; qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text;
    // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ). On success i is just past the closing quote.
    private static bool TrySkipQuotedString(ReadOnlySpan<byte> span, ref int i)
    {
        for (var j = i + 1; j < span.Length; j++)
        {
            var b = span[j];
            if (b == (byte)'"')
            {
                i = j + 1;
                return true;
            }
            if (b == (byte)'\\')
            {
                if (++j == span.Length || !IsQuotedPairByte(span[j]))
                {
                    return false;
                }
            }
            else if (!IsQuotedPairByte(b))
            {
                return false;
            }
        }
        return false;
    }

    private static bool IsQuotedPairByte(byte b) => b is (byte)'\t' or >= 0x20 and not 0x7F;

    private static int HexValue(byte b) => b <= (byte)'9' ? b - '0' : (b | 0x20) - 'a' + 10;
}
