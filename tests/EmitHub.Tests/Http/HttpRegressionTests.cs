using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EmitHub.Net.Http;
using EmitHub.Net.Transport;
using EmitHub.Tests.Infrastructure;
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

    private static RequestRejectionReason? DecodeChunked(string raw)
    {
        var bytes = Encoding.Latin1.GetBytes(raw);
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        var decoder = new ChunkedBodyDecoder();
        decoder.Reset();
        try
        {
            Assert.True(decoder.TryDecode(ref reader, new ArrayBufferWriter<byte>(), 1 << 20, new HttpLimits()));
            return null;
        }
        catch (HttpRequestRejectedException e)
        {
            return e.Reason;
        }
    }

    // Bug: after the chunk size only control bytes were refused, so any text passed as a "chunk extension".
    // RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
    // chunk-ext-name = token, chunk-ext-val = token / quoted-string.
    [Theory]
    [InlineData("2;\r\nab\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkExtension)]       // no name
    [InlineData("2;a=\r\nab\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkExtension)]     // '=' and no value
    [InlineData("2; =v\r\nab\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkExtension)]    // value and no name
    [InlineData("2;a b\r\nab\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkExtension)]    // two tokens
    [InlineData("2;a \r\nab\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkExtension)]     // BWS with nothing after it
    [InlineData("2;a=b \r\nab\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkExtension)]
    [InlineData("2;a=b;\r\nab\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkExtension)]
    [InlineData("2;;a\r\nab\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkExtension)]
    [InlineData("2;a=b=c\r\nab\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkExtension)]
    [InlineData("2;a=(b)\r\nab\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkExtension)]  // '(' is not a tchar
    [InlineData("2;a=\"b\r\nab\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkExtension)] // unterminated quoted-string
    [InlineData("2;a=\"b\"c\r\nab\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkExtension)]
    [InlineData("2;a\u00e9\r\nab\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkExtension)] // obs-text outside quotes
    [InlineData("2 \r\nab\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkSize)]            // a size followed by a space
    [InlineData("2\t\r\nab\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkSize)]
    [InlineData("0 \r\n\r\n", RequestRejectionReason.InvalidChunkSize)]                          // the last chunk too
    public void A_chunk_extension_that_is_not_token_or_token_equals_value_is_refused(string raw, RequestRejectionReason reason)
    {
        Assert.Equal(reason, DecodeChunked(raw));
        Assert.Equal(400, RequestRejections.Get(reason).StatusCode);
    }

    [Theory]
    [InlineData("2;a\r\nab\r\n0\r\n\r\n")]
    [InlineData("2 ;a\r\nab\r\n0\r\n\r\n")]                 // BWS before ';'
    [InlineData("2;\ta = b ;c\r\nab\r\n0\r\n\r\n")]         // BWS around ';' and '='
    [InlineData("2;a=\"\"\r\nab\r\n0\r\n\r\n")]           // empty quoted-string
    [InlineData("2;a=\"x; \\\"y\\\\ \u00e9\"\r\nab\r\n0\r\n\r\n")] // ';', quoted-pairs and obs-text inside quotes
    [InlineData("2;a=!#$%&'*+-.^_`|~09\r\nab\r\n0\r\n\r\n")]  // every tchar
    [InlineData("0;last=1\r\n\r\n")]
    public void A_chunk_extension_of_the_rfc_9112_grammar_is_accepted(string raw)
    {
        Assert.Null(DecodeChunked(raw));
    }

    // Bug: "2;" was accepted, so the request ran and the request pipelined behind it ran too.
    [Fact]
    public async Task A_malformed_chunk_extension_is_400_and_closes_so_the_pipelined_request_never_runs()
    {
        await using var server = await TestHubServer.StartAsync();
        using var raw = await server.ConnectRawAsync();
        await raw.SendAsync(
            "POST /api/v1/channels HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
            "E;\r\n{\"name\":\"one\"}\r\n0\r\n\r\n" +
            "POST /api/v1/channels HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"name\":\"two\"}");
        var response = (await raw.ReadResponseAsync())!;
        Assert.Equal(400, response.StatusCode);
        Assert.Equal("close", response.Header("Connection"));
        var json = JsonDocument.Parse(response.Body).RootElement;
        Assert.Equal("invalid_chunk_extension", json.GetProperty("code").GetString());
        Assert.Contains("RFC 9112", json.GetProperty("error").GetString());
        Assert.True(await raw.IsClosedByServerAsync());
        Assert.Empty(server.Registry.List());
    }

    // Bug: a Transfer-Encoding whose final coding is not chunked was 501, which invites a retry on the same
    // connection; RFC 9112 §6.3 says the length cannot be determined: 400 and close.
    [Theory]
    [InlineData("Transfer-Encoding: chunked, gzip\r\n")]
    [InlineData("Transfer-Encoding: gzip\r\n")]
    [InlineData("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n")]
    [InlineData("Transfer-Encoding: chunked, chunked\r\n")] // chunked applied twice (RFC 9112 §7.1 MUST NOT)
    [InlineData("Transfer-Encoding: \r\n")]
    public async Task Transfer_encoding_whose_final_coding_is_not_a_single_chunked_is_400_and_closes(string fields)
    {
        await using var server = await TestHubServer.StartAsync();
        using var raw = await server.ConnectRawAsync();
        await raw.SendAsync("POST /api/v1/channels HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n" + fields + "\r\n" +
            "E\r\n{\"name\":\"one\"}\r\n0\r\n\r\nGET /health HTTP/1.1\r\nHost: h\r\n\r\n");
        var response = (await raw.ReadResponseAsync())!;
        Assert.Equal(400, response.StatusCode);
        Assert.Equal("close", response.Header("Connection"));
        Assert.Equal("chunked_not_final", JsonDocument.Parse(response.Body).RootElement.GetProperty("code").GetString());
        Assert.True(await raw.IsClosedByServerAsync());
        Assert.Empty(server.Registry.List());
    }

    // Bug: the 426 for a wrong Sec-WebSocket-Version carried only Sec-WebSocket-Version; RFC 9110 §15.5.22 needs Upgrade.
    [Fact]
    public async Task The_426_for_an_unsupported_websocket_version_carries_upgrade_websocket()
    {
        await using var server = await TestHubServer.StartAsync(o => o.WebSocket.EchoPath = "/echo");
        using var raw = await server.ConnectRawAsync();
        await raw.SendAsync("GET /echo HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
        var response = (await raw.ReadResponseAsync())!;
        Assert.Equal(426, response.StatusCode);
        Assert.Equal("websocket", response.Header("Upgrade"));
        Assert.Equal("13", response.Header("Sec-WebSocket-Version"));
    }

    // Bug: any charset parameter was accepted, so a Latin-1 body was read as UTF-8.
    [Theory]
    [InlineData("application/json; charset=iso-8859-1", 415)]
    [InlineData("application/json;charset=utf-16", 415)]
    [InlineData("application/json; charset=\"latin1\"", 415)]
    [InlineData("application/json; charset=", 415)]
    [InlineData("application/json; charset=utf-8", 201)]
    [InlineData("application/json; charset=\"UTF-8\"", 201)]
    [InlineData("Application/JSON;CHARSET=Utf-8", 201)]
    [InlineData("application/json; foo=bar", 201)]
    public async Task A_json_body_with_a_charset_other_than_utf8_is_415(string contentType, int status)
    {
        await using var server = await TestHubServer.StartAsync();
        using var raw = await server.ConnectRawAsync();
        await raw.SendAsync($"POST /api/v1/channels HTTP/1.1\r\nHost: h\r\nContent-Type: {contentType}\r\nContent-Length: 14\r\n\r\n{{\"name\":\"one\"}}");
        var response = (await raw.ReadResponseAsync())!;
        Assert.Equal(status, response.StatusCode);
        if (status == 415)
        {
            var json = JsonDocument.Parse(response.Body).RootElement;
            Assert.Equal("unsupported_media_type", json.GetProperty("code").GetString());
            Assert.Contains("utf-8", json.GetProperty("error").GetString());
            Assert.Empty(server.Registry.List());
        }
    }
}
