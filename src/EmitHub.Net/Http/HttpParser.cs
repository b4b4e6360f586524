using System.Buffers;
using System.Text;

namespace EmitHub.Net.Http;

/// <summary>
/// I/O-free HTTP/1.1 request-head parser (RFC 9112 §2–§6) over <see cref="SequenceReader{T}"/>. It knows no sockets:
/// the connection hands it whatever bytes have arrived. <c>false</c> means "need more data" and consumes nothing;
/// <c>true</c> advances the reader past the head's final CRLF; anything refused throws
/// <see cref="HttpRequestRejectedException"/> with one <see cref="RequestRejectionReason"/>.
/// Limits are enforced before buffering past them: an incomplete request line longer than the limit is 414 at once.
/// </summary>
public static class HttpParser
{
    private const byte CR = (byte)'\r';
    private const byte LF = (byte)'\n';
    private const byte SP = (byte)' ';
    private const byte HTAB = (byte)'\t';

    /// <summary>
    /// Parses a request line and field section into <paramref name="head"/> and decides the message framing
    /// (RFC 9112 §6.3): Content-Length or chunked, persistence, upgrade intent.
    /// </summary>
    /// <param name="reader">Unconsumed input; advanced past the head only when the method returns true.</param>
    /// <param name="head">Filled on success (reset first).</param>
    /// <param name="limits">Line, field section and count limits.</param>
    /// <param name="maxBodyLength">Largest Content-Length accepted (message_size_limit + 64 KiB); larger is 413.</param>
    /// <returns>True when a whole head was parsed; false when more bytes are needed.</returns>
    /// <exception cref="HttpRequestRejectedException">The head violates RFC 9112 or a limit of SPEC §4.</exception>
    public static bool TryParseRequestHead(ref SequenceReader<byte> reader, HttpRequestHead head, HttpLimits limits, long maxBodyLength)
    {
        var r = reader;
        ReadOnlySequence<byte> line;
        while (true)
        {
            if (!r.TryReadTo(out line, LF))
            {
                // No LF yet: everything unread belongs to the request line (CR included).
                if (r.Remaining > limits.MaxRequestLineLength + 1)
                {
                    HttpRequestRejectedException.Throw(RequestRejectionReason.RequestLineTooLong);
                }
                return false;
            }
            if (line.Length > limits.MaxRequestLineLength + 1)
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.RequestLineTooLong);
            }
            // RFC 9112 §2.2: ignore at least one empty line before the request-line (robustness).
            if (line.Length == 1 && line.FirstSpan[0] == CR && r.Consumed <= 4)
            {
                continue;
            }
            break;
        }

        head.Reset();
        ParseRequestLine(line, head);

        var fieldsStart = r.Consumed;
        var count = 0;
        while (true)
        {
            if (!r.TryReadTo(out line, LF))
            {
                if (r.Consumed - fieldsStart + r.Remaining > limits.MaxHeadersLength)
                {
                    HttpRequestRejectedException.Throw(RequestRejectionReason.HeadersTooLarge);
                }
                return false;
            }
            if (r.Consumed - fieldsStart > limits.MaxHeadersLength)
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.HeadersTooLarge);
            }
            if (line.Length == 0 || LastByte(line) != CR)
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.BareLineFeed);
            }
            if (line.Length == 1)
            {
                break;
            }
            if (++count > limits.MaxHeaderCount)
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.TooManyHeaders);
            }
            ParseFieldLine(line, head);
        }

        DecideFraming(head, maxBodyLength);
        reader = r;
        return true;
    }

    private static byte LastByte(in ReadOnlySequence<byte> sequence) =>
        sequence.IsSingleSegment ? sequence.FirstSpan[^1] : sequence.Slice(sequence.Length - 1).FirstSpan[0];

    private static void ParseRequestLine(in ReadOnlySequence<byte> line, HttpRequestHead head)
    {
        if (line.Length == 0 || LastByte(line) != CR)
        {
            HttpRequestRejectedException.Throw(RequestRejectionReason.BareLineFeed);
        }
        byte[]? rented = null;
        var span = line.IsSingleSegment ? line.FirstSpan : Copy(line, out rented);
        try
        {
            ParseRequestLine(span[..^1], head);
        }
        finally
        {
            if (rented != null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static ReadOnlySpan<byte> Copy(in ReadOnlySequence<byte> line, out byte[] rented)
    {
        rented = ArrayPool<byte>.Shared.Rent((int)line.Length);
        line.CopyTo(rented);
        return rented.AsSpan(0, (int)line.Length);
    }

    private static void ParseRequestLine(ReadOnlySpan<byte> span, HttpRequestHead head)
    {
        foreach (var b in span)
        {
            if (b == CR)
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.BareCarriageReturn);
            }
            if (b < 0x20 || b == 0x7F)
            {
                HttpRequestRejectedException.Throw(b == HTAB ? RequestRejectionReason.InvalidRequestLine : RequestRejectionReason.ControlCharacter);
            }
        }

        var sp1 = span.IndexOf(SP);
        if (sp1 <= 0)
        {
            HttpRequestRejectedException.Throw(RequestRejectionReason.InvalidRequestLine);
        }
        var method = span[..sp1];
        foreach (var b in method)
        {
            if (!IsTChar(b))
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.InvalidRequestLine);
            }
        }
        var rest = span[(sp1 + 1)..];
        var sp2 = rest.IndexOf(SP);
        if (sp2 <= 0)
        {
            HttpRequestRejectedException.Throw(RequestRejectionReason.InvalidRequestLine);
        }
        var target = rest[..sp2];
        var version = rest[(sp2 + 1)..];
        if (version.Length != 8 || !version.StartsWith("HTTP/"u8) || !char.IsAsciiDigit((char)version[5]) ||
            version[6] != (byte)'.' || !char.IsAsciiDigit((char)version[7]))
        {
            HttpRequestRejectedException.Throw(RequestRejectionReason.InvalidRequestLine);
        }
        if (version[5] != (byte)'1' || (version[7] != (byte)'0' && version[7] != (byte)'1'))
        {
            HttpRequestRejectedException.Throw(RequestRejectionReason.UnsupportedHttpVersion);
        }
        head.Version = version[7] == (byte)'1' ? HttpVersion.Http11 : HttpVersion.Http10;
        head.Method = InternMethod(method);
        ParseTarget(target, head);
    }

    private static string InternMethod(ReadOnlySpan<byte> method) => method switch
    {
        _ when method.SequenceEqual("GET"u8) => "GET",
        _ when method.SequenceEqual("POST"u8) => "POST",
        _ when method.SequenceEqual("PUT"u8) => "PUT",
        _ when method.SequenceEqual("PATCH"u8) => "PATCH",
        _ when method.SequenceEqual("DELETE"u8) => "DELETE",
        _ when method.SequenceEqual("OPTIONS"u8) => "OPTIONS",
        _ when method.SequenceEqual("HEAD"u8) => "HEAD",
        _ => Encoding.ASCII.GetString(method),
    };

    private static void ParseTarget(ReadOnlySpan<byte> target, HttpRequestHead head)
    {
        foreach (var b in target)
        {
            // VCHAR only; '#' starts a fragment, which is never part of a request-target (RFC 9112 §3.2).
            if (b > 0x7E || b == (byte)'#')
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.InvalidRequestTarget);
            }
        }
        var text = Encoding.ASCII.GetString(target);
        head.Target = text;
        string pathAndQuery;
        if (text[0] == '/')
        {
            pathAndQuery = text;
        }
        else if (text == "*")
        {
            if (head.Method != "OPTIONS")
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.InvalidRequestTarget);
            }
            head.Path = "*";
            return;
        }
        else if (text.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            // absolute-form (RFC 9112 §3.2.2): servers must accept it; the authority is ignored for routing.
            var authorityStart = text.IndexOf("//", StringComparison.Ordinal) + 2;
            var slash = text.IndexOfAny(['/', '?'], authorityStart);
            if (slash == authorityStart)
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.InvalidRequestTarget);
            }
            pathAndQuery = slash < 0 ? "/" : text[slash] == '?' ? "/" + text[slash..] : text[slash..];
        }
        else
        {
            HttpRequestRejectedException.Throw(RequestRejectionReason.InvalidRequestTarget);
            return;
        }
        var q = pathAndQuery.IndexOf('?');
        head.Path = q < 0 ? pathAndQuery : pathAndQuery[..q];
        head.Query = q < 0 ? "" : pathAndQuery[(q + 1)..];
    }

    private static void ParseFieldLine(in ReadOnlySequence<byte> line, HttpRequestHead head)
    {
        byte[]? rented = null;
        var span = line.IsSingleSegment ? line.FirstSpan : Copy(line, out rented);
        try
        {
            ValidateFieldLine(span[..^1], out var name, out var value);
            head.AddField(Encoding.ASCII.GetString(name), Encoding.Latin1.GetString(value));
        }
        finally
        {
            if (rented != null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Checks one field line (without its CRLF) per RFC 9112 §5 and splits it into name and trimmed value.
    /// Shared with chunked trailers.</summary>
    internal static void ValidateFieldLine(ReadOnlySpan<byte> span, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        if (span[0] == SP || span[0] == HTAB)
        {
            HttpRequestRejectedException.Throw(RequestRejectionReason.ObsoleteLineFolding);
        }
        foreach (var b in span)
        {
            if (b == CR)
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.BareCarriageReturn);
            }
            if ((b < 0x20 && b != HTAB) || b == 0x7F)
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.ControlCharacter);
            }
        }
        var colon = span.IndexOf((byte)':');
        if (colon <= 0)
        {
            HttpRequestRejectedException.Throw(RequestRejectionReason.InvalidFieldLine);
        }
        name = span[..colon];
        if (name[^1] == SP || name[^1] == HTAB)
        {
            HttpRequestRejectedException.Throw(RequestRejectionReason.WhitespaceBeforeColon);
        }
        foreach (var b in name)
        {
            if (!IsTChar(b))
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.InvalidFieldLine);
            }
        }
        value = span[(colon + 1)..].Trim(" \t"u8);
    }

    private static void DecideFraming(HttpRequestHead head, long maxBodyLength)
    {
        var hosts = 0;
        var transferEncoding = false;
        var chunkedCount = 0;
        var otherCodings = 0;
        var lastIsChunked = false;
        var close = false;
        var keepAlive = false;
        foreach (var field in head.Fields)
        {
            var name = field.Name;
            if (name.Equals("Host", StringComparison.OrdinalIgnoreCase))
            {
                hosts++;
            }
            else if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                var length = ParseContentLength(field.Value);
                if (head.ContentLength is { } previous && previous != length)
                {
                    HttpRequestRejectedException.Throw(RequestRejectionReason.DifferingContentLengths);
                }
                head.ContentLength = length;
            }
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                // Repeated field lines form one list in order (RFC 9110 §5.3); what counts is the final coding.
                transferEncoding = true;
                foreach (var coding in Tokens(field.Value))
                {
                    lastIsChunked = coding.Equals("chunked", StringComparison.OrdinalIgnoreCase);
                    if (lastIsChunked)
                    {
                        chunkedCount++;
                    }
                    else
                    {
                        otherCodings++;
                    }
                }
            }
            else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                foreach (var option in Tokens(field.Value))
                {
                    close |= option.Equals("close", StringComparison.OrdinalIgnoreCase);
                    keepAlive |= option.Equals("keep-alive", StringComparison.OrdinalIgnoreCase);
                    head.ConnectionUpgrade |= option.Equals("upgrade", StringComparison.OrdinalIgnoreCase);
                }
            }
            else if (name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase))
            {
                foreach (var protocol in Tokens(field.Value))
                {
                    head.UpgradeWebSocket |= protocol.Equals("websocket", StringComparison.OrdinalIgnoreCase);
                }
            }
        }

        if (hosts > 1)
        {
            HttpRequestRejectedException.Throw(RequestRejectionReason.DuplicateHost);
        }
        if (hosts == 0 && head.Version == HttpVersion.Http11)
        {
            HttpRequestRejectedException.Throw(RequestRejectionReason.MissingHost);
        }
        if (transferEncoding)
        {
            // RFC 9112 §6.1: CL with TE is how requests are smuggled past a proxy; refuse and close.
            if (head.ContentLength != null)
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.ContentLengthAndTransferEncoding);
            }
            // RFC 9112 §6.3: chunked not final means the length cannot be determined (400 and close); chunked twice is
            // forbidden to senders (§7.1). Only a sound framing with an extra coding is "not implemented" (501).
            if (!lastIsChunked || chunkedCount != 1)
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.ChunkedNotFinal);
            }
            if (otherCodings != 0)
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.UnsupportedTransferCoding);
            }
            head.IsChunked = true;
        }
        if (head.ContentLength > maxBodyLength)
        {
            HttpRequestRejectedException.Throw(RequestRejectionReason.BodyTooLarge);
        }
        if (head.UpgradeWebSocket && head.Version == HttpVersion.Http10)
        {
            HttpRequestRejectedException.Throw(RequestRejectionReason.WebSocketUpgradeOverHttp10);
        }
        // RFC 9112 §9.3; a chunked HTTP/1.0 request has untrustworthy framing (§6.1), so it closes too.
        head.KeepAlive = head.Version == HttpVersion.Http11 ? !close : keepAlive && !close && !head.IsChunked;
    }

    private static long ParseContentLength(string value)
    {
        if (value.Length == 0)
        {
            HttpRequestRejectedException.Throw(RequestRejectionReason.InvalidContentLength);
        }
        long length = 0;
        foreach (var c in value)
        {
            if (!char.IsAsciiDigit(c))
            {
                HttpRequestRejectedException.Throw(RequestRejectionReason.InvalidContentLength);
            }
            // Saturate instead of overflowing: such a length is over any body limit (413), not malformed.
            length = length > (long.MaxValue - 9) / 10 ? long.MaxValue : length * 10 + (c - '0');
        }
        return length;
    }

    /// <summary>Elements of a comma-separated field value (RFC 9110 §5.6.1), trimmed, empty ones skipped.</summary>
    internal static IEnumerable<string> Tokens(string value)
    {
        foreach (var part in value.Split(','))
        {
            var token = part.Trim(' ', '\t');
            if (token.Length > 0)
            {
                yield return token;
            }
        }
    }

    /// <summary>tchar of RFC 9110 §5.6.2.</summary>
    internal static bool IsTChar(byte b) =>
        char.IsAsciiLetterOrDigit((char)b) || b is (byte)'!' or (byte)'#' or (byte)'$' or (byte)'%' or (byte)'&' or (byte)'\''
            or (byte)'*' or (byte)'+' or (byte)'-' or (byte)'.' or (byte)'^' or (byte)'_' or (byte)'`' or (byte)'|' or (byte)'~';
}
