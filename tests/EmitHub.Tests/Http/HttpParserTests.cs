using System.Buffers;
using System.Text;
using EmitHub.Net.Http;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Http;

public class HttpParserTests
{
    private static readonly HttpLimits s_limits = new();
    private const long MaxBody = 1024 * 1024 + 64 * 1024;

    public static TheoryData<string> ValidHeads => new()
    {
        "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "GET /api/v1/channels?after=5&limit=10 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n",
        "POST /api/v1/channels HTTP/1.1\r\nHost: localhost:8080\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET /health HTTP/1.0\r\n\r\n",
        "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "GET /health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET http://example.com/health?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nX-Empty:\r\nX-Latin: caf\u00e9\r\n\r\n",
        "PUT /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\nX-Tab:\tvalue with  spaces \t\r\n\r\n",
    };

    private static string Snapshot(HttpRequestHead h, long consumed) =>
        $"{h.Method}|{h.Target}|{h.Path}|{h.Query}|{h.Version}|{h.ContentLength}|{h.IsChunked}|{h.KeepAlive}|{h.UpgradeWebSocket}|{h.ConnectionUpgrade}|{consumed}|" +
        string.Join(";", h.Fields.Select(f => f.Name + "=" + f.Value));

    private static (bool Complete, string Snapshot, long Consumed) Parse(ReadOnlySequence<byte> sequence)
    {
        var head = new HttpRequestHead();
        var reader = new SequenceReader<byte>(sequence);
        var complete = HttpParser.TryParseRequestHead(ref reader, head, s_limits, MaxBody);
        return (complete, complete ? Snapshot(head, reader.Consumed) : "", reader.Consumed);
    }

    private static byte[] Bytes(string s) => Encoding.Latin1.GetBytes(s);

    [Theory]
    [MemberData(nameof(ValidHeads))]
    public void A_valid_head_parses_identically_whole_split_at_every_index_and_one_byte_per_segment(string raw)
    {
        var bytes = Bytes(raw + "TRAILING");
        var whole = Parse(new ReadOnlySequence<byte>(bytes));
        Assert.True(whole.Complete);
        Assert.Equal(raw.Length, whole.Consumed);
        for (var i = 1; i < bytes.Length; i++)
        {
            Assert.Equal(whole.Snapshot, Parse(SegmentedSequence.SplitAt(bytes, i)).Snapshot);
        }
        Assert.Equal(whole.Snapshot, Parse(SegmentedSequence.OneBytePerSegment(bytes)).Snapshot);
    }

    [Theory]
    [MemberData(nameof(ValidHeads))]
    public void Every_prefix_of_a_valid_head_returns_false_and_consumes_nothing(string raw)
    {
        var bytes = Bytes(raw);
        for (var i = 0; i < bytes.Length; i++)
        {
            var (complete, _, consumed) = Parse(new ReadOnlySequence<byte>(bytes, 0, i));
            Assert.False(complete, $"prefix of {i} bytes");
            Assert.Equal(0, consumed);
            (complete, _, consumed) = Parse(SegmentedSequence.OneBytePerSegment(bytes[..i]));
            Assert.False(complete);
            Assert.Equal(0, consumed);
        }
    }

    [Fact]
    public void Framing_decisions_follow_rfc_9112()
    {
        var head = new HttpRequestHead();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Bytes("POST /api/v1/channels?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 13\r\n\r\n")));
        Assert.True(HttpParser.TryParseRequestHead(ref reader, head, s_limits, MaxBody));
        Assert.Equal("POST", head.Method);
        Assert.Equal("/api/v1/channels", head.Path);
        Assert.Equal("x=1", head.Query);
        Assert.Equal(13, head.ContentLength);
        Assert.True(head.KeepAlive);

        reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Bytes("GET / HTTP/1.0\r\n\r\n")));
        Assert.True(HttpParser.TryParseRequestHead(ref reader, head, s_limits, MaxBody));
        Assert.Equal(HttpVersion.Http10, head.Version);
        Assert.False(head.KeepAlive);

        reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Bytes("GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n")));
        Assert.True(HttpParser.TryParseRequestHead(ref reader, head, s_limits, MaxBody));
        Assert.False(head.KeepAlive);

        reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Bytes("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n")));
        Assert.True(HttpParser.TryParseRequestHead(ref reader, head, s_limits, MaxBody));
        Assert.True(head.IsChunked);
        Assert.Null(head.ContentLength);
    }

    public static TheoryData<string, RequestRejectionReason, int> Rejections => new()
    {
        { "GET /" + new string('a', 8 * 1024) + " HTTP/1.1\r\nHost: h\r\n\r\n", RequestRejectionReason.RequestLineTooLong, 414 },
        { "GET /" + new string('a', 9 * 1024), RequestRejectionReason.RequestLineTooLong, 414 },
        { "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + new string('b', 33 * 1024) + "\r\n\r\n", RequestRejectionReason.HeadersTooLarge, 431 },
        { "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + new string('b', 33 * 1024), RequestRejectionReason.HeadersTooLarge, 431 },
        { "GET / HTTP/1.1\r\nHost: h\r\n" + string.Concat(Enumerable.Range(0, 100).Select(i => $"X-{i}: v\r\n")) + "\r\n", RequestRejectionReason.TooManyHeaders, 431 },
        { "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1114113\r\n\r\n", RequestRejectionReason.BodyTooLarge, 413 },
        { "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", RequestRejectionReason.BodyTooLarge, 413 },
        { "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", RequestRejectionReason.InvalidRequestLine, 400 },
        { "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", RequestRejectionReason.InvalidRequestLine, 400 },
        { "GET /\r\nHost: h\r\n\r\n", RequestRejectionReason.InvalidRequestLine, 400 },
        { "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", RequestRejectionReason.InvalidRequestLine, 400 },
        { "GET / HTTX/1.1\r\nHost: h\r\n\r\n", RequestRejectionReason.InvalidRequestLine, 400 },
        { "GET api HTTP/1.1\r\nHost: h\r\n\r\n", RequestRejectionReason.InvalidRequestTarget, 400 },
        { "GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n", RequestRejectionReason.InvalidRequestTarget, 400 },
        { "GET / HTTP/1.1\r\nHost h\r\n\r\n", RequestRejectionReason.InvalidFieldLine, 400 },
        { "GET / HTTP/1.1\r\n: v\r\nHost: h\r\n\r\n", RequestRejectionReason.InvalidFieldLine, 400 },
        { "GET / HTTP/1.1\r\nHo(st: h\r\n\r\n", RequestRejectionReason.InvalidFieldLine, 400 },
        { "GET / HTTP/1.1\r\nHost : h\r\n\r\n", RequestRejectionReason.WhitespaceBeforeColon, 400 },
        { "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", RequestRejectionReason.ObsoleteLineFolding, 400 },
        { "GET / HTTP/1.1\nHost: h\r\n\r\n", RequestRejectionReason.BareLineFeed, 400 },
        { "GET / HTTP/1.1\r\nHost: h\n\r\n", RequestRejectionReason.BareLineFeed, 400 },
        { "GET / HTTP/1.1\r\nHost: h\r\n\n", RequestRejectionReason.BareLineFeed, 400 },
        { "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", RequestRejectionReason.BareCarriageReturn, 400 },
        { "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", RequestRejectionReason.BareCarriageReturn, 400 },
        { "GET / HTTP/1.1\r\nHost: h\0\r\n\r\n", RequestRejectionReason.ControlCharacter, 400 },
        { "GET /\u0001 HTTP/1.1\r\nHost: h\r\n\r\n", RequestRejectionReason.ControlCharacter, 400 },
        { "GET / HTTP/1.1\r\nHost: h\r\nX: a\u007fb\r\n\r\n", RequestRejectionReason.ControlCharacter, 400 },
        { "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", RequestRejectionReason.InvalidContentLength, 400 },
        { "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", RequestRejectionReason.InvalidContentLength, 400 },
        { "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", RequestRejectionReason.InvalidContentLength, 400 },
        { "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", RequestRejectionReason.InvalidContentLength, 400 },
        { "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", RequestRejectionReason.DifferingContentLengths, 400 },
        { "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", RequestRejectionReason.ContentLengthAndTransferEncoding, 400 },
        { "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", RequestRejectionReason.ContentLengthAndTransferEncoding, 400 },
        { "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", RequestRejectionReason.UnsupportedTransferCoding, 501 },
        { "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", RequestRejectionReason.ChunkedNotFinal, 400 },
        { "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", RequestRejectionReason.ChunkedNotFinal, 400 },
        { "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n", RequestRejectionReason.ChunkedNotFinal, 400 },
        { "GET / HTTP/1.1\r\n\r\n", RequestRejectionReason.MissingHost, 400 },
        { "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", RequestRejectionReason.DuplicateHost, 400 },
        { "GET /ws HTTP/1.0\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", RequestRejectionReason.WebSocketUpgradeOverHttp10, 400 },
        { "GET / HTTP/2.0\r\nHost: h\r\n\r\n", RequestRejectionReason.UnsupportedHttpVersion, 505 },
        { "GET / HTTP/1.2\r\nHost: h\r\n\r\n", RequestRejectionReason.UnsupportedHttpVersion, 505 },
        { "GET / HTTP/0.9\r\nHost: h\r\n\r\n", RequestRejectionReason.UnsupportedHttpVersion, 505 },
    };

    [Theory]
    [MemberData(nameof(Rejections))]
    public void Each_rejection_of_spec_section_4_has_its_reason_and_status(string raw, RequestRejectionReason reason, int status)
    {
        var bytes = Bytes(raw);
        foreach (var sequence in new[] { new ReadOnlySequence<byte>(bytes), SegmentedSequence.SplitAt(bytes, bytes.Length / 2) })
        {
            var e = Assert.Throws<HttpRequestRejectedException>(() => Parse(sequence));
            Assert.Equal(reason, e.Reason);
        }
        var rejection = RequestRejections.Get(reason);
        Assert.Equal(status, rejection.StatusCode);
        Assert.Matches("^[a-z0-9_]+$", rejection.Code);
        Assert.EndsWith(".", rejection.Message);
    }

    [Fact]
    public void Exactly_one_hundred_fields_and_an_8_KiB_request_line_are_still_accepted()
    {
        var line = "GET /" + new string('a', 8 * 1024 - "GET / HTTP/1.1".Length) + " HTTP/1.1\r\n";
        Assert.Equal(8 * 1024 + 2, line.Length);
        var raw = line + "Host: h\r\n" + string.Concat(Enumerable.Range(0, 99).Select(i => $"X-{i}: v\r\n")) + "\r\n";
        Assert.True(Parse(new ReadOnlySequence<byte>(Bytes(raw))).Complete);
    }

    [Fact]
    public void Every_reason_has_an_entry_in_the_table()
    {
        foreach (var reason in Enum.GetValues<RequestRejectionReason>())
        {
            var rejection = RequestRejections.Get(reason);
            Assert.NotEqual("bad_request", rejection.Code);
        }
    }
}
