using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Text;

namespace EmitHub.Net.Http;

/// <summary>Writes an HTTP/1.1 response (RFC 9112 §4, §6) straight into a <see cref="PipeWriter"/>: status line,
/// the heartbeat's cached Date, <c>Server: emit-hub</c>, Content-Type, Content-Length, Connection, extra field
/// lines and body. Never flushes; the connection decides when.</summary>
public static class ResponseWriter
{
    /// <summary>Writes <paramref name="response"/>.</summary>
    /// <param name="writer">The connection's output.</param>
    /// <param name="response">What to write.</param>
    /// <param name="dateFieldLine">Cached <c>Date: ...\r\n</c> bytes.</param>
    /// <param name="close">Adds <c>Connection: close</c>.</param>
    /// <param name="http10KeepAlive">Adds <c>Connection: keep-alive</c> (an HTTP/1.0 peer that asked for it).</param>
    /// <param name="omitBody">HEAD: field lines as for GET, no body (RFC 9110 §9.3.2).</param>
    public static void Write(PipeWriter writer, HttpResponse response, ReadOnlySpan<byte> dateFieldLine, bool close, bool http10KeepAlive, bool omitBody)
    {
        var status = response.StatusCode;
        writer.Write("HTTP/1.1 "u8);
        WriteNumber(writer, status);
        writer.Write(" "u8);
        Ascii(writer, ReasonPhrase(status));
        writer.Write("\r\n"u8);
        writer.Write(dateFieldLine);
        writer.Write("Server: emit-hub\r\n"u8);
        if (response.ContentType != null)
        {
            writer.Write("Content-Type: "u8);
            Ascii(writer, response.ContentType);
            writer.Write("\r\n"u8);
        }
        // RFC 9110 §8.6: no Content-Length on 1xx and 204.
        if (status >= 200 && status != 204)
        {
            writer.Write("Content-Length: "u8);
            WriteNumber(writer, response.Body.Length);
            writer.Write("\r\n"u8);
        }
        if (close)
        {
            writer.Write("Connection: close\r\n"u8);
        }
        else if (http10KeepAlive)
        {
            writer.Write("Connection: keep-alive\r\n"u8);
        }
        foreach (var header in response.Headers)
        {
            Ascii(writer, header.Key);
            writer.Write(": "u8);
            Ascii(writer, header.Value);
            writer.Write("\r\n"u8);
        }
        writer.Write("\r\n"u8);
        if (!omitBody && response.Body.Length > 0)
        {
            writer.Write(response.Body.Span);
        }
    }

    private static void Ascii(PipeWriter writer, string text)
    {
        // Latin-1 so that a header value can never be turned into extra lines: CR/LF are refused below.
        var span = writer.GetSpan(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            span[i] = c is '\r' or '\n' or > '\u00ff' ? (byte)'?' : (byte)c;
        }
        writer.Advance(text.Length);
    }

    private static void WriteNumber(PipeWriter writer, long value)
    {
        var span = writer.GetSpan(20);
        Utf8Formatter.TryFormat(value, span, out var written);
        writer.Advance(written);
    }

    /// <summary>Reason phrase of <paramref name="status"/> (RFC 9110 §15).</summary>
    public static string ReasonPhrase(int status) => status switch
    {
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    };
}
