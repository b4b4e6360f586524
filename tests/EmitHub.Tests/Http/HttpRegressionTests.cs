using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using EmitHub.Net.Http;
using EmitHub.Net.Transport;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmitHub.Tests.Http;

/// <summary>The exact bytes of bugs found while building the HTTP stack, so they stay fixed.</summary>
public class HttpRegressionTests
{
    private static string Write(HttpResponse response, bool close = false, bool http10KeepAlive = false, bool omitBody = false)
    {
        var pipe = new Pipe();
        ResponseWriter.Write(pipe.Writer, response, "Date: Sun, 29 Nov 2026 14:00:00 GMT\r\n"u8, close, http10KeepAlive, omitBody);
        pipe.Writer.Complete();
        pipe.Reader.TryRead(out var result);
        var text = Encoding.Latin1.GetString(result.Buffer.ToArray());
        pipe.Reader.Complete();
        return text;
    }

    [Fact]
    public void The_status_line_and_field_lines_end_with_crlf_not_question_marks()
    {
        // Bug: CRLF went through the header-value sanitizer and came out as "??", so no client could parse a response.
        var response = new HttpResponse();
        response.WriteError(404, "not_found", "No.");
        response.AddHeader("Vary", "Origin");
        Assert.Equal(
            "HTTP/1.1 404 Not Found\r\nDate: Sun, 29 Nov 2026 14:00:00 GMT\r\nServer: emit-hub\r\nContent-Type: application/json\r\n" +
            "Content-Length: 34\r\nVary: Origin\r\n\r\n{\"error\":\"No.\",\"code\":\"not_found\"}",
            Write(response));
    }

    [Fact]
    public void A_header_value_cannot_inject_field_lines()
    {
        var response = new HttpResponse();
        response.WriteEmpty(204);
        response.AddHeader("Location", "/x\r\nSet-Cookie: evil=1");
        var text = Write(response, close: true);
        Assert.Equal("HTTP/1.1 204 No Content\r\nDate: Sun, 29 Nov 2026 14:00:00 GMT\r\nServer: emit-hub\r\nConnection: close\r\n" +
            "Location: /x??Set-Cookie: evil=1\r\n\r\n", text);
    }

    [Fact]
    public void Head_responses_keep_content_length_and_drop_the_body()
    {
        var response = new HttpResponse();
        response.WriteBytes(200, "text/plain", "hello"u8);
        Assert.EndsWith("Content-Length: 5\r\nConnection: keep-alive\r\n\r\n", Write(response, http10KeepAlive: true, omitBody: true));
    }

    [Fact]
    public void The_first_recorded_close_reason_wins()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var connection = new ConnectionContext(1, socket, MemoryPool<byte>.Shared, TimeProvider.System, NullLogger.Instance);
        Assert.Equal(ConnectionCloseReason.None, connection.CloseReason);
        Assert.False(connection.TrySetCloseReason(ConnectionCloseReason.None));
        Assert.True(connection.TrySetCloseReason(ConnectionCloseReason.RequestRejected));
        Assert.False(connection.TrySetCloseReason(ConnectionCloseReason.SocketError));
        Assert.Equal(ConnectionCloseReason.RequestRejected, connection.CloseReason);
    }
}
