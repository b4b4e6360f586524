using System.Buffers;
using EmitHub.Net.WebSockets;

namespace EmitHub.Tests.WebSockets;

/// <summary>
/// Every protocol violation of SPEC §3/§4, spelled out as bytes, with the exact close code. Unless a test is about
/// masking, frames use MASK=1 with the all-zero masking key so the payload bytes read as themselves.
/// </summary>
public class WebSocketProtocolViolationTests
{
    private static void AssertFails(byte[] bytes, ushort expectedCode, WebSocketProtocolError expectedError, WebSocketReaderLimits? limits = null)
    {
        var expected = $"error:{expectedCode}:{expectedError}";
        var events = ReaderDriver.Run(bytes, limits);
        Assert.Equal(expected, events[^2]);
        Assert.Equal("finished", events[^1]);
        // The verdict does not depend on how the bytes arrive.
        Assert.Equal(events, ReaderDriver.RunSequence(TestSegment.OneBytePerSegment(bytes), limits));
        Assert.Equal(events, ReaderDriver.Run(bytes.Select(b => new[] { b }), limits));
        Assert.Equal(expectedCode, WebSocketProtocolErrors.GetCloseCode(expectedError));
        Assert.False(string.IsNullOrEmpty(WebSocketProtocolErrors.GetReason(expectedError)));
    }

    [Fact]
    public void Unmasked_client_frame_is_1002()
    {
        AssertFails(
            [0x81, 0x05, (byte)'H', (byte)'e', (byte)'l', (byte)'l', (byte)'o'], // FIN=1 TEXT MASK=0 len=5
            1002, WebSocketProtocolError.UnmaskedClientFrame);
    }

    [Fact]
    public void Unmasked_control_frame_is_1002()
    {
        AssertFails([0x89, 0x00], 1002, WebSocketProtocolError.UnmaskedClientFrame); // FIN=1 PING MASK=0 len=0
    }

    [Theory]
    [InlineData(0xC1)] // FIN=1 RSV1=1 TEXT
    [InlineData(0xA1)] // FIN=1 RSV2=1 TEXT
    [InlineData(0x91)] // FIN=1 RSV3=1 TEXT
    [InlineData(0xC9)] // FIN=1 RSV1=1 PING
    public void Reserved_bits_without_an_extension_are_1002(byte first)
    {
        AssertFails([first, 0x81, 0, 0, 0, 0, (byte)'a'], 1002, WebSocketProtocolError.ReservedBitsSet); // MASK=1 len=1 key=0
    }

    [Theory]
    [InlineData(0x83)] // FIN=1 opcode=0x3 (reserved data)
    [InlineData(0x87)] // FIN=1 opcode=0x7
    [InlineData(0x8B)] // FIN=1 opcode=0xB (reserved control)
    [InlineData(0x8F)] // FIN=1 opcode=0xF
    public void Unknown_opcode_is_1002(byte first)
    {
        AssertFails([first, 0x80, 0, 0, 0, 0], 1002, WebSocketProtocolError.UnknownOpcode); // MASK=1 len=0 key=0
    }

    [Theory]
    [InlineData(0x08)] // FIN=0 CLOSE
    [InlineData(0x09)] // FIN=0 PING
    [InlineData(0x0A)] // FIN=0 PONG
    public void Fragmented_control_frame_is_1002(byte first)
    {
        AssertFails([first, 0x80, 0, 0, 0, 0], 1002, WebSocketProtocolError.FragmentedControlFrame); // MASK=1 len=0
    }

    [Fact]
    public void Control_frame_over_125_bytes_is_1002_judged_from_the_header()
    {
        // FIN=1 PING MASK=1 len=126 (16-bit) key=0, and no payload at all: the header alone decides.
        AssertFails([0x89, 0xFE, 0x00, 0x7E, 0, 0, 0, 0], 1002, WebSocketProtocolError.ControlFrameTooLong);
    }

    [Fact]
    public void Continuation_without_a_start_is_1002()
    {
        AssertFails([0x80, 0x81, 0, 0, 0, 0, (byte)'a'], 1002, WebSocketProtocolError.ContinuationWithoutStart); // FIN=1 CONT MASK=1 len=1
    }

    [Fact]
    public void Continuation_after_a_complete_message_is_1002()
    {
        AssertFails(
            [
                0x81, 0x81, 0, 0, 0, 0, (byte)'a', // FIN=1 TEXT MASK=1 len=1
                0x80, 0x81, 0, 0, 0, 0, (byte)'b', // FIN=1 CONT MASK=1 len=1
            ],
            1002, WebSocketProtocolError.ContinuationWithoutStart);
    }

    [Fact]
    public void New_text_frame_inside_a_fragmented_message_is_1002()
    {
        AssertFails(
            [
                0x01, 0x81, 0, 0, 0, 0, (byte)'a', // FIN=0 TEXT MASK=1 len=1
                0x81, 0x81, 0, 0, 0, 0, (byte)'b', // FIN=1 TEXT MASK=1 len=1
            ],
            1002, WebSocketProtocolError.DataFrameInsideFragmentedMessage);
    }

    [Fact]
    public void New_binary_frame_inside_a_fragmented_message_is_1002()
    {
        AssertFails(
            [
                0x01, 0x81, 0, 0, 0, 0, (byte)'a', // FIN=0 TEXT MASK=1 len=1
                0x82, 0x81, 0, 0, 0, 0, 0x00,      // FIN=1 BINARY MASK=1 len=1
            ],
            1002, WebSocketProtocolError.DataFrameInsideFragmentedMessage);
    }

    [Fact]
    public void Binary_message_is_1003()
    {
        AssertFails([0x82, 0x82, 0, 0, 0, 0, 0x01, 0x02], 1003, WebSocketProtocolError.BinaryMessage); // FIN=1 BINARY MASK=1 len=2
    }

    [Fact]
    public void Fragmented_binary_message_is_1003_at_its_first_frame()
    {
        AssertFails([0x02, 0x80, 0, 0, 0, 0], 1003, WebSocketProtocolError.BinaryMessage); // FIN=0 BINARY MASK=1 len=0
    }

    [Fact]
    public void Invalid_utf8_text_is_1007()
    {
        AssertFails([0x81, 0x81, 0, 0, 0, 0, 0xFF], 1007, WebSocketProtocolError.InvalidUtf8Text); // FIN=1 TEXT MASK=1 len=1 payload=FF
    }

    [Theory]
    [InlineData(new byte[] { 0xC0, 0x80 })]             // overlong NUL
    [InlineData(new byte[] { 0xE0, 0x80, 0x80 })]       // overlong
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]       // UTF-16 surrogate U+D800
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 })] // above U+10FFFF
    [InlineData(new byte[] { 0xF5, 0x80, 0x80, 0x80 })] // invalid lead byte
    [InlineData(new byte[] { 0x61, 0x80 })]             // lone continuation byte
    public void Ill_formed_utf8_sequences_are_1007(byte[] payload)
    {
        byte[] frame = [0x81, (byte)(0x80 | payload.Length), 0, 0, 0, 0, .. payload]; // FIN=1 TEXT MASK=1 len=n key=0
        AssertFails(frame, 1007, WebSocketProtocolError.InvalidUtf8Text);
    }

    [Fact]
    public void Text_ending_inside_a_code_point_is_1007_at_fin()
    {
        AssertFails(
            [
                0x01, 0x81, 0, 0, 0, 0, 0xE2,       // FIN=0 TEXT MASK=1 len=1: first byte of € (valid prefix)
                0x80, 0x81, 0, 0, 0, 0, 0x82,       // FIN=1 CONT MASK=1 len=1: second byte, third never comes
            ],
            1007, WebSocketProtocolError.InvalidUtf8Text);
    }

    [Fact]
    public void Invalid_utf8_fails_fast_before_the_rest_of_the_frame_arrives()
    {
        // FIN=1 TEXT MASK=1 len=100 key=0, but only the first 2 payload bytes (an overlong C0 80) have arrived.
        byte[] prefix = [0x81, 0xE4, 0, 0, 0, 0, 0xC0, 0x80];
        var events = ReaderDriver.Run(prefix);
        Assert.Equal(["error:1007:InvalidUtf8Text", "finished"], events);
    }

    [Fact]
    public void Invalid_utf8_prefix_fails_fast_at_a_non_final_fragment()
    {
        // FIN=0 TEXT MASK=1 len=2 key=0 payload E0 80: no continuation can make E0 80 valid, so no need to wait.
        var events = ReaderDriver.Run([0x01, 0x82, 0, 0, 0, 0, 0xE0, 0x80]);
        Assert.Equal(["error:1007:InvalidUtf8Text", "finished"], events);
    }

    [Fact]
    public void Invalid_continuation_of_a_code_point_split_across_fragments_fails_at_that_fragment()
    {
        AssertFails(
            [
                0x01, 0x81, 0, 0, 0, 0, 0xF0,       // FIN=0 TEXT MASK=1 len=1: lead of a 4-byte sequence
                0x00, 0x81, 0, 0, 0, 0, 0x41,       // FIN=0 CONT MASK=1 len=1: 'A' cannot continue it
            ],
            1007, WebSocketProtocolError.InvalidUtf8Text);
    }

    [Fact]
    public void Masked_invalid_utf8_is_found_after_unmasking()
    {
        // FIN=1 TEXT MASK=1 len=1 key=0F0F0F0F payload F0 -> unmasked FF.
        AssertFails([0x81, 0x81, 0x0F, 0x0F, 0x0F, 0x0F, 0xF0], 1007, WebSocketProtocolError.InvalidUtf8Text);
    }

    [Fact]
    public void Message_over_the_size_limit_is_1009_judged_from_the_header()
    {
        var limits = new WebSocketReaderLimits(MaxMessageSize: 10, MaxContinuationSize: 10);
        // FIN=1 TEXT MASK=1 len=11 key=0, no payload sent: the header alone decides.
        AssertFails([0x81, 0x8B, 0, 0, 0, 0], 1009, WebSocketProtocolError.MessageTooBig, limits);
    }

    [Fact]
    public void Huge_64_bit_length_is_1009_without_reading_the_payload()
    {
        // FIN=1 TEXT MASK=1 len=2^62 (64-bit) key=0.
        AssertFails([0x81, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 1009, WebSocketProtocolError.MessageTooBig);
    }

    [Fact]
    public void Sixty_four_bit_length_with_the_most_significant_bit_set_is_1002()
    {
        // FIN=1 TEXT MASK=1 len=0x8000000000000000 key=0.
        AssertFails([0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 1002, WebSocketProtocolError.InvalidPayloadLength);
    }

    [Fact]
    public void Fragmented_message_over_the_size_limit_is_1009_at_the_fragment_that_crosses_it()
    {
        var limits = new WebSocketReaderLimits(MaxMessageSize: 20, MaxContinuationSize: 1000);
        AssertFails(
            [
                0x01, 0x90, 0, 0, 0, 0, .. "0123456789abcdef"u8, // FIN=0 TEXT MASK=1 len=16
                0x80, 0x85, 0, 0, 0, 0,                             // FIN=1 CONT MASK=1 len=5 (16+5 > 20), payload not sent
            ],
            1009, WebSocketProtocolError.MessageTooBig, limits);
    }

    [Fact]
    public void The_final_fragment_counts_toward_max_continuation_size_too()
    {
        var limits = new WebSocketReaderLimits(MaxMessageSize: 1 << 20, MaxContinuationSize: 40);
        AssertFails(
            [
                0x01, 0x94, 0, 0, 0, 0, .. "0123456789abcdefghij"u8, // FIN=0 TEXT MASK=1 len=20
                0x80, 0x95, 0, 0, 0, 0,                               // FIN=1 CONT MASK=1 len=21 (41 > 40), payload not sent
            ],
            1009, WebSocketProtocolError.FragmentedMessageTooBig, limits);
    }

    [Fact]
    public void A_single_frame_message_is_bounded_by_message_size_limit_only()
    {
        // max_continuation_size applies to fragmented messages; one FIN=1 frame of 100 bytes is fine with a 40-byte budget.
        var limits = new WebSocketReaderLimits(MaxMessageSize: 100, MaxContinuationSize: 40);
        Assert.Equal(["text:" + new string('k', 100)], ReaderDriver.Run(ClientFrame.Text(new string('k', 100)), limits));
    }

    [Fact]
    public void Fragmented_messages_count_their_exact_payload_bytes()
    {
        var limits = new WebSocketReaderLimits(MaxMessageSize: 1 << 20, MaxContinuationSize: 50);
        // 17 + 17 + 16 = 50 fits; one more byte would not.
        Assert.Equal(
            ["text:" + new string('a', 17) + new string('b', 17) + new string('c', 16)],
            ReaderDriver.Run(ClientFrame.Concat(
                ClientFrame.Text(new string('a', 17), fin: false),
                ClientFrame.Continuation(new string('b', 17), fin: false),
                ClientFrame.Continuation(new string('c', 16), fin: true)), limits));
        var over = ReaderDriver.Run(ClientFrame.Concat(
            ClientFrame.Text(new string('a', 17), fin: false),
            ClientFrame.Continuation(new string('b', 17), fin: false),
            ClientFrame.Continuation(new string('c', 17), fin: true)), limits);
        Assert.Equal(["error:1009:FragmentedMessageTooBig", "finished"], over);
    }

    [Fact]
    public void Four_empty_fragments_fit_exactly_in_a_four_fragment_bound_and_each_message_counts_afresh()
    {
        var limits = new WebSocketReaderLimits(MaxMessageSize: 1 << 20, MaxContinuationSize: 64, MaxFragments: 4);
        byte[] bytes =
        [
            0x01, 0x80, 0, 0, 0, 0, // FIN=0 TEXT MASK=1 len=0
            0x00, 0x80, 0, 0, 0, 0, // FIN=0 CONT MASK=1 len=0
            0x00, 0x80, 0, 0, 0, 0, // FIN=0 CONT MASK=1 len=0
            0x80, 0x80, 0, 0, 0, 0, // FIN=1 CONT MASK=1 len=0
            0x01, 0x80, 0, 0, 0, 0, // the next message counts afresh: FIN=0 TEXT MASK=1 len=0
            0x80, 0x80, 0, 0, 0, 0, // FIN=1 CONT MASK=1 len=0
        ];
        Assert.Equal(["text:", "text:"], ReaderDriver.Run(bytes, limits));
    }

    [Fact]
    public void Close_payload_of_one_byte_is_1002()
    {
        AssertFails([0x88, 0x81, 0, 0, 0, 0, 0x03], 1002, WebSocketProtocolError.ClosePayloadTooShort); // FIN=1 CLOSE MASK=1 len=1
    }

    [Theory]
    [InlineData(0)]
    [InlineData(999)]
    [InlineData(1004)]
    [InlineData(1005)]
    [InlineData(1006)]
    [InlineData(1015)]
    [InlineData(1016)]
    [InlineData(2999)]
    [InlineData(5000)]
    [InlineData(65535)]
    public void Invalid_close_code_is_1002(int code)
    {
        // FIN=1 CLOSE MASK=1 len=2 key=0 payload=code (big-endian)
        AssertFails([0x88, 0x82, 0, 0, 0, 0, (byte)(code >> 8), (byte)code], 1002, WebSocketProtocolError.InvalidCloseCode);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(1001)]
    [InlineData(1002)]
    [InlineData(1003)]
    [InlineData(1007)]
    [InlineData(1011)]
    [InlineData(1014)]
    [InlineData(3000)]
    [InlineData(4999)]
    public void Valid_close_code_is_reported(int code)
    {
        // FIN=1 CLOSE MASK=1 len=2 key=0 payload=code
        Assert.Equal([$"close:{code}:", "finished"], ReaderDriver.Run([0x88, 0x82, 0, 0, 0, 0, (byte)(code >> 8), (byte)code]));
    }

    [Fact]
    public void Close_reason_that_is_not_utf8_is_1007()
    {
        // FIN=1 CLOSE MASK=1 len=4 key=0 payload=03E8 'o' FF
        AssertFails([0x88, 0x84, 0, 0, 0, 0, 0x03, 0xE8, 0x6F, 0xFF], 1007, WebSocketProtocolError.InvalidUtf8CloseReason);
    }

    [Fact]
    public void Nothing_is_read_after_a_protocol_error()
    {
        byte[] bytes =
        [
            0x82, 0x80, 0, 0, 0, 0,            // FIN=1 BINARY MASK=1 len=0
            0x81, 0x81, 0, 0, 0, 0, (byte)'a', // FIN=1 TEXT MASK=1 len=1
        ];
        using var reader = new WebSocketProtocolReader(ReaderDriver.DefaultLimits);
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.True(reader.TryRead(ref buffer, out var ev));
        Assert.Equal(WebSocketEventKind.ProtocolError, ev.Kind);
        Assert.Equal("Binary messages are not supported.", ev.ErrorReason);
        Assert.False(reader.TryRead(ref buffer, out _));
    }
}
