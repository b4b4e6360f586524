using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace EmitHub.Net.Http;

/// <summary>Why a request was refused before it reached the router (SPEC §4, RFC 9112). Mapped to the wire by
/// <see cref="RequestRejections"/>, the only table of statuses and sentences.</summary>
public enum RequestRejectionReason
{
    /// <summary>Request line over 8 KiB (414).</summary>
    RequestLineTooLong,
    /// <summary>Field section over 32 KiB (431).</summary>
    HeadersTooLarge,
    /// <summary>More than 100 field lines (431).</summary>
    TooManyHeaders,
    /// <summary>Body over message_size_limit + 64 KiB, from Content-Length or a chunk size (413).</summary>
    BodyTooLarge,
    /// <summary>Request line not <c>method SP request-target SP HTTP-version</c> (400).</summary>
    InvalidRequestLine,
    /// <summary>Request target not origin-form, absolute-form or <c>*</c> (400).</summary>
    InvalidRequestTarget,
    /// <summary>Field line without a colon, with an empty or non-token name (400).</summary>
    InvalidFieldLine,
    /// <summary>Whitespace between a field name and its colon (400, RFC 9112 §5.1).</summary>
    WhitespaceBeforeColon,
    /// <summary>A field line continued with obs-fold (400, RFC 9112 §5.2).</summary>
    ObsoleteLineFolding,
    /// <summary>A line ended by LF without CR (400).</summary>
    BareLineFeed,
    /// <summary>A CR not followed by LF (400).</summary>
    BareCarriageReturn,
    /// <summary>NUL or another control byte in the head (400).</summary>
    ControlCharacter,
    /// <summary>Content-Length not 1*DIGIT or out of range (400).</summary>
    InvalidContentLength,
    /// <summary>Two Content-Length field lines with different values (400).</summary>
    DifferingContentLengths,
    /// <summary>Both Content-Length and Transfer-Encoding (400): the classic request-smuggling shape.</summary>
    ContentLengthAndTransferEncoding,
    /// <summary>Transfer-Encoding whose final coding is not chunked, or with chunked applied more than once (400:
    /// the body length cannot be determined, RFC 9112 §6.3, §7.1).</summary>
    ChunkedNotFinal,
    /// <summary>A coding before the final chunked, such as <c>gzip, chunked</c> (501: framing is sound, the coding is
    /// not implemented).</summary>
    UnsupportedTransferCoding,
    /// <summary>Chunk size not 1*HEXDIG or too large (400).</summary>
    InvalidChunkSize,
    /// <summary>Chunk-size line longer than <see cref="HttpLimits.MaxChunkLineLength"/> (400).</summary>
    ChunkLineTooLong,
    /// <summary>Chunk extension not <c>;name</c> or <c>;name=value</c> with a token or quoted-string value (400, RFC 9112 §7.1.1).</summary>
    InvalidChunkExtension,
    /// <summary>Chunk data not followed by CRLF (400).</summary>
    ChunkDataNotFollowedByCrlf,
    /// <summary>An HTTP/1.1 request without Host (400, RFC 9112 §3.2).</summary>
    MissingHost,
    /// <summary>More than one Host field line (400).</summary>
    DuplicateHost,
    /// <summary>A WebSocket upgrade over HTTP/1.0 (400; RFC 6455 §4.1 needs HTTP/1.1).</summary>
    WebSocketUpgradeOverHttp10,
    /// <summary>HTTP version other than 1.0 or 1.1 (505).</summary>
    UnsupportedHttpVersion,
    /// <summary>The request head did not complete within 10 s (408).</summary>
    RequestHeadersTimeout,
    /// <summary>The body arrived slower than its timeout (408).</summary>
    RequestBodyTimeout,
    /// <summary>The peer closed mid-request (no answer is possible; recorded only).</summary>
    UnexpectedEndOfRequest,
}

/// <summary>What a rejection puts on the wire.</summary>
/// <param name="StatusCode">HTTP status.</param>
/// <param name="Code">snake_case <c>code</c> of the error body.</param>
/// <param name="Message">Sentence of the error body: what was wrong and what is allowed.</param>
public readonly record struct RequestRejection(int StatusCode, string Code, string Message);

/// <summary>The one table from <see cref="RequestRejectionReason"/> to status, code and sentence.</summary>
public static class RequestRejections
{
    /// <summary>Status, code and sentence for <paramref name="reason"/>.</summary>
    public static RequestRejection Get(RequestRejectionReason reason) => reason switch
    {
        RequestRejectionReason.RequestLineTooLong => new(414, "request_line_too_long", "The request line is longer than 8 KiB; shorten the URL."),
        RequestRejectionReason.HeadersTooLarge => new(431, "headers_too_large", "The request header fields exceed 32 KiB in total; at most 32 KiB are allowed."),
        RequestRejectionReason.TooManyHeaders => new(431, "too_many_headers", "The request has more than 100 header fields; at most 100 are allowed."),
        RequestRejectionReason.BodyTooLarge => new(413, "body_too_large", "The request body is larger than message_size_limit plus 64 KiB."),
        RequestRejectionReason.InvalidRequestLine => new(400, "invalid_request_line", "The request line is malformed; it must be 'METHOD SP request-target SP HTTP/1.1' ended by CRLF."),
        RequestRejectionReason.InvalidRequestTarget => new(400, "invalid_request_target", "The request target is malformed; it must be an absolute path such as /api/v1/channels."),
        RequestRejectionReason.InvalidFieldLine => new(400, "invalid_header", "A header field line is malformed; it must be 'name: value' with a token name."),
        RequestRejectionReason.WhitespaceBeforeColon => new(400, "whitespace_before_colon", "A header field name is followed by whitespace before its colon, which is not allowed."),
        RequestRejectionReason.ObsoleteLineFolding => new(400, "obs_fold", "A header field value is folded over several lines (obs-fold), which is not allowed."),
        RequestRejectionReason.BareLineFeed => new(400, "bare_lf", "A line ends with LF alone; every line must end with CRLF."),
        RequestRejectionReason.BareCarriageReturn => new(400, "bare_cr", "The request contains a CR not followed by LF, which is not allowed."),
        RequestRejectionReason.ControlCharacter => new(400, "control_character", "The request head contains NUL or another control character, which is not allowed."),
        RequestRejectionReason.InvalidContentLength => new(400, "invalid_content_length", "The Content-Length header is not a plain decimal number (1*DIGIT)."),
        RequestRejectionReason.DifferingContentLengths => new(400, "differing_content_lengths", "The request has several Content-Length headers with different values; send exactly one."),
        RequestRejectionReason.ContentLengthAndTransferEncoding => new(400, "content_length_and_transfer_encoding", "The request has both Content-Length and Transfer-Encoding; send only one of them."),
        RequestRejectionReason.ChunkedNotFinal => new(400, "chunked_not_final", "The Transfer-Encoding does not end with a single 'chunked', so the body length cannot be determined (RFC 9112 §6.3); send 'Transfer-Encoding: chunked' or a Content-Length."),
        RequestRejectionReason.UnsupportedTransferCoding => new(501, "unsupported_transfer_coding", "The Transfer-Encoding is not supported; only a single 'chunked' coding is allowed."),
        RequestRejectionReason.InvalidChunkSize => new(400, "invalid_chunk_size", "A chunk size is not a hexadecimal number (1*HEXDIG), is too large, or is followed by something other than CRLF or ';' and a chunk extension."),
        RequestRejectionReason.ChunkLineTooLong => new(400, "chunk_line_too_long", "A chunk-size line is longer than 4 KiB; a chunk size with its extensions must fit in 4 KiB."),
        RequestRejectionReason.InvalidChunkExtension => new(400, "invalid_chunk_extension", "A chunk extension is malformed; after the chunk size only ';name' or ';name=value' may follow, with a token or quoted-string value (RFC 9112 §7.1.1)."),
        RequestRejectionReason.ChunkDataNotFollowedByCrlf => new(400, "invalid_chunk_data", "Chunk data is not followed by CRLF; each chunk must end with CRLF."),
        RequestRejectionReason.MissingHost => new(400, "missing_host", "The request has no Host header; HTTP/1.1 requests need exactly one."),
        RequestRejectionReason.DuplicateHost => new(400, "duplicate_host", "The request has more than one Host header; exactly one is allowed."),
        RequestRejectionReason.WebSocketUpgradeOverHttp10 => new(400, "websocket_requires_http11", "A WebSocket upgrade needs HTTP/1.1; HTTP/1.0 cannot be upgraded."),
        RequestRejectionReason.UnsupportedHttpVersion => new(505, "http_version_not_supported", "The HTTP version is not supported; use HTTP/1.1 or HTTP/1.0."),
        RequestRejectionReason.RequestHeadersTimeout => new(408, "request_timeout", "The request head did not arrive within 10 seconds."),
        RequestRejectionReason.RequestBodyTimeout => new(408, "request_timeout", "The request body did not arrive within its time limit."),
        RequestRejectionReason.UnexpectedEndOfRequest => new(400, "unexpected_end", "The connection closed before the request was complete."),
        _ => new(400, "bad_request", "The request is malformed."),
    };
}

/// <summary>Thrown by <see cref="HttpParser"/> and <see cref="ChunkedBodyDecoder"/> when a request must be refused;
/// the connection answers with <see cref="RequestRejections.Get"/> and closes.</summary>
public sealed class HttpRequestRejectedException(RequestRejectionReason reason)
    : Exception(RequestRejections.Get(reason).Message)
{
    /// <summary>Why the request was refused.</summary>
    public RequestRejectionReason Reason { get; } = reason;

    /// <summary>Throws for <paramref name="reason"/>.</summary>
    [DoesNotReturn]
    [StackTraceHidden]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Throw(RequestRejectionReason reason) => throw new HttpRequestRejectedException(reason);
}
