using System.Buffers;
using System.Text;
using EmitHub.Net.Http;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Http;

public class ChunkedBodyDecoderTests
{
    private static readonly HttpLimits s_limits = new();

    public static TheoryData<string, string> ValidBodies => new()
    {
        { "5\r\nhello\r\n0\r\n\r\n", "hello" },
        { "5;name=value;x\r\nhello\r\n6 ; ext=\"q\"\r\n world\r\n0\r\n\r\n", "hello world" },
        { "A\r\n0123456789\r\n0\r\nX-Trailer: t\r\nY: z\r\n\r\n", "0123456789" },
        { "0\r\n\r\n", "" },
        { "000001\r\na\r\n0\r\n\r\n", "a" },
        { "2 ;a = \"x;\\\"y\" ;b\t=\tc\r\nab\r\n0;z\r\n\r\n", "ab" },
    };

    /// <summary>Feeds the decoder the way the connection does: each call sees the unconsumed rest of what arrived.</summary>
    private static (bool Done, string Body, long Consumed) Decode(ReadOnlySequence<byte> all, int[] arrivals, long maxBody = 1 << 20)
    {
        var decoder = new ChunkedBodyDecoder();
        decoder.Reset();
        var body = new ArrayBufferWriter<byte>();
        long consumed = 0;
        foreach (var available in arrivals)
        {
            var reader = new SequenceReader<byte>(all.Slice(consumed, available - consumed));
            var done = decoder.TryDecode(ref reader, body, maxBody, s_limits);
            consumed += reader.Consumed;
            if (done)
            {
                return (true, Encoding.ASCII.GetString(body.WrittenSpan), consumed);
            }
        }
        return (false, Encoding.ASCII.GetString(body.WrittenSpan), consumed);
    }

    [Theory]
    [MemberData(nameof(ValidBodies))]
    public void A_chunked_body_decodes_identically_whole_split_at_every_index_and_byte_by_byte(string raw, string expected)
    {
        var bytes = Encoding.ASCII.GetBytes(raw + "NEXT");
        var all = new ReadOnlySequence<byte>(bytes);
        var whole = Decode(all, [bytes.Length]);
        Assert.True(whole.Done);
        Assert.Equal(expected, whole.Body);
        Assert.Equal(raw.Length, whole.Consumed);
        for (var i = 1; i < bytes.Length; i++)
        {
            Assert.Equal(whole, Decode(SegmentedSequence.SplitAt(bytes, i), [i, bytes.Length]));
        }
        Assert.Equal(whole, Decode(SegmentedSequence.OneBytePerSegment(bytes), Enumerable.Range(1, bytes.Length).ToArray()));
    }

    public static TheoryData<string, RequestRejectionReason, int> Rejections => new()
    {
        { "x\r\nhello\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkSize, 400 },
        { "-5\r\nhello\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkSize, 400 },
        { "5 x\r\nhello\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkSize, 400 },
        { "1000000000000000\r\n", RequestRejectionReason.InvalidChunkSize, 400 },
        { "5\nhello\r\n0\r\n\r\n", RequestRejectionReason.BareLineFeed, 400 },
        { "5\r\nhelloXY0\r\n\r\n", RequestRejectionReason.ChunkDataNotFollowedByCrlf, 400 },
        { "5\r\nhello\rX0\r\n\r\n", RequestRejectionReason.ChunkDataNotFollowedByCrlf, 400 },
        { "5;a\u0001\r\nhello\r\n0\r\n\r\n", RequestRejectionReason.InvalidChunkExtension, 400 },
        { "5;a\rb\r\nhello\r\n0\r\n\r\n", RequestRejectionReason.BareCarriageReturn, 400 },
        { "100001\r\n", RequestRejectionReason.BodyTooLarge, 413 },
        { "80000\r\n" + new string('a', 0x80000) + "\r\n80001\r\n", RequestRejectionReason.BodyTooLarge, 413 },
        { "0\r\nBad Trailer\r\n\r\n", RequestRejectionReason.InvalidFieldLine, 400 },
        { "0\r\nX: a\n\r\n", RequestRejectionReason.BareLineFeed, 400 },
    };

    [Theory]
    [MemberData(nameof(Rejections))]
    public void Each_chunked_rejection_has_its_reason_and_status(string raw, RequestRejectionReason reason, int status)
    {
        var bytes = Encoding.Latin1.GetBytes(raw);
        var e = Assert.Throws<HttpRequestRejectedException>(() => Decode(new ReadOnlySequence<byte>(bytes), [bytes.Length]));
        Assert.Equal(reason, e.Reason);
        Assert.Equal(status, RequestRejections.Get(reason).StatusCode);
    }

    [Fact]
    public void The_body_limit_is_decided_from_the_chunk_size_before_its_data_arrives()
    {
        // Only the size line has arrived; the 1 MiB of data never does.
        var bytes = Encoding.ASCII.GetBytes("100000\r\n");
        var e = Assert.Throws<HttpRequestRejectedException>(() => Decode(new ReadOnlySequence<byte>(bytes), [bytes.Length], maxBody: 1000));
        Assert.Equal(RequestRejectionReason.BodyTooLarge, e.Reason);
    }
}
