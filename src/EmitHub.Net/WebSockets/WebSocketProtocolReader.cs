using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using EmitHub.Net.WebSockets.Compression;

namespace EmitHub.Net.WebSockets;

/// <summary>
/// Sans-I/O reader of client frames (RFC 6455 §5, §6.2, §7, SPEC §3/§4): fed the bytes a connection has received,
/// it yields complete text messages, pings, pongs, the peer's close, or the protocol error to fail the connection
/// with. It knows no sockets; the connection loop does:
/// <code>
/// var buffer = result.Buffer;
/// while (reader.TryRead(ref buffer, out var ev)) { /* handle ev; stop after Close or ProtocolError */ }
/// input.AdvanceTo(buffer.Start, buffer.End);
/// </code>
/// Frame headers are consumed only when complete. Data-frame payload is consumed as it arrives: it is unmasked into
/// a pooled message buffer and UTF-8-validated at once, so the pipe never holds more than one piece of a message and
/// invalid text fails before the rest of the frame arrives. Every limit is judged from the header, before any payload
/// byte is buffered. After a <see cref="WebSocketEventKind.Close"/> or <see cref="WebSocketEventKind.ProtocolError"/>
/// the reader is finished and returns false. Not thread-safe: one reader per connection, used by its read loop.
/// </summary>
public sealed class WebSocketProtocolReader : IDisposable
{
    private const int MaxControlPayload = 125;
    private const int MinMessageBufferSize = 4096;

    private readonly WebSocketReaderLimits _limits;
    private readonly ArrayPool<byte> _pool;
    private readonly PerMessageDeflateInflater? _inflater;

    private bool _finished;

    // The data frame whose payload is being read; _frameRemaining == 0 means "expecting a header".
    private bool _frameFin;
    private long _frameRemaining;
    private uint _frameMaskingKey;
    private int _frameKeyOffset;

    // The text message being assembled; _messageOpen while a non-final fragment has been seen.
    // The open message is binary (only with WebSocketReaderLimits.AcceptBinary, for the echo endpoint).
    private bool _binary;
    private bool _compressed;
    private bool _inPayload;
    private bool _messageOpen;
    private byte[]? _message;
    private int _messageLength;
    private long _fragmentCount;
    private long _messagesStarted;
    private Utf8Validator _utf8;

    // A buffer handed out in the last event; returned to the pool at the next call.
    private byte[]? _delivered;

    /// <summary>Creates a reader that enforces <paramref name="limits"/>; message buffers come from <paramref name="pool"/> (default <see cref="ArrayPool{T}.Shared"/>).</summary>
    public WebSocketProtocolReader(WebSocketReaderLimits limits, ArrayPool<byte>? pool = null)
    {
        if (limits.MaxMessageSize < 0 || limits.MaxContinuationSize < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(limits), "Limits must not be negative.");
        }
        // Message buffers are arrays: a configured limit beyond what an array holds is capped there.
        _limits = limits with
        {
            MaxMessageSize = Math.Min(limits.MaxMessageSize, Array.MaxLength),
            MaxContinuationSize = Math.Min(limits.MaxContinuationSize, long.MaxValue / 2),
        };
        _pool = pool ?? ArrayPool<byte>.Shared;
        if (limits.PerMessageDeflate)
        {
            _inflater = new PerMessageDeflateInflater(limits.ClientNoContextTakeover, _pool);
        }
    }

    /// <summary>True once a close frame or a protocol error was produced; no more events follow.</summary>
    public bool IsFinished => _finished;

    /// <summary>True while part of a message has been consumed but the message is not complete (a fragmented message
    /// is open or a data frame's payload is partly read). Useful to decide whether a closing peer cut a message short.</summary>
    public bool IsInsideMessage => _messageOpen || _inPayload;

    /// <summary>Bytes of the pooled buffer holding the message being assembled (its capacity, which is what the
    /// process holds), 0 when no message is open. For the server-wide <see cref="PartialMessageBudget"/>.</summary>
    public long HeldBytes => _message?.Length ?? 0;

    /// <summary>Data messages whose first frame has been read since the reader was created; a change while
    /// <see cref="IsInsideMessage"/> tells the connection a new message started (for the time allowed to finish it).</summary>
    public long MessagesStarted => _messagesStarted;

    /// <summary>
    /// Consumes bytes from the front of <paramref name="buffer"/> (it is re-sliced past what was consumed) and returns
    /// true with the next event, or false when more data is needed (everything usable has been consumed; the rest,
    /// if any, is an incomplete frame header or control frame) or the reader is finished.
    /// </summary>
    public bool TryRead(ref ReadOnlySequence<byte> buffer, out WebSocketReadEvent readEvent)
    {
        readEvent = default;
        ReturnDelivered();
        if (_finished)
        {
            return false;
        }

        while (true)
        {
            if (_inPayload)
            {
                if (!ReadPayload(ref buffer, out readEvent))
                {
                    return false;
                }
                if (readEvent.Kind != WebSocketEventKind.None)
                {
                    return true;
                }
                continue; // frame done, message not final: next header
            }

            if (!TryParseHeader(buffer, out var header, out var headerError))
            {
                if (headerError != WebSocketProtocolError.None)
                {
                    readEvent = Fail(headerError);
                    return true;
                }
                return false;
            }

            var error = CheckHeader(header);
            if (error != WebSocketProtocolError.None)
            {
                readEvent = Fail(error);
                return true;
            }

            if (header.IsControl)
            {
                // Control payloads are at most 125 bytes: wait until the whole frame is here, consuming nothing before.
                var frameLength = header.HeaderLength + header.PayloadLength;
                if (buffer.Length < frameLength)
                {
                    return false;
                }
                readEvent = ReadControlFrame(header, buffer.Slice(header.HeaderLength, header.PayloadLength));
                buffer = buffer.Slice(frameLength);
                return true;
            }

            buffer = buffer.Slice(header.HeaderLength);
            StartDataFrame(header);
            if (!_inPayload && _frameFin)
            {
                readEvent = CompleteMessage();
                return true;
            }
        }
    }

    /// <summary>Returns pooled buffers. The last event's <see cref="WebSocketReadEvent.Payload"/> becomes invalid.</summary>
    public void Dispose()
    {
        ReturnDelivered();
        ReturnMessage();
        _inflater?.Dispose();
        _finished = true;
    }

    // Parses from the first segment when the whole header can be there; copies at most 14 bytes otherwise.
    private static bool TryParseHeader(in ReadOnlySequence<byte> buffer, out FrameHeader header, out WebSocketProtocolError error)
    {
        var first = buffer.FirstSpan;
        if (first.Length >= FrameHeader.MaxLength || buffer.IsSingleSegment)
        {
            return FrameHeader.TryParse(first, out header, out error);
        }
        Span<byte> bytes = stackalloc byte[FrameHeader.MaxLength];
        var available = (int)Math.Min(buffer.Length, FrameHeader.MaxLength);
        buffer.Slice(0, available).CopyTo(bytes);
        return FrameHeader.TryParse(bytes[..available], out header, out error);
    }

    private WebSocketProtocolError CheckHeader(in FrameHeader header)
    {
        if (header.Rsv != 0)
        {
            if (_inflater is null)
            {
                return WebSocketProtocolError.ReservedBitsSet;
            }
            // RFC 7692 §6.1: RSV1 marks a compressed message on its first frame only; RSV2/RSV3 stay unassigned.
            if (header.Rsv != FrameHeader.Rsv1 || header.Opcode is not (WebSocketOpcode.Text or WebSocketOpcode.Binary))
            {
                return WebSocketProtocolError.CompressedBitMisplaced;
            }
        }

        var opcode = header.Opcode;
        if (opcode is not (WebSocketOpcode.Continuation or WebSocketOpcode.Text or WebSocketOpcode.Binary
            or WebSocketOpcode.Close or WebSocketOpcode.Ping or WebSocketOpcode.Pong))
        {
            return WebSocketProtocolError.UnknownOpcode;
        }

        if (_limits.RequireMaskedFrames && !header.Masked)
        {
            return WebSocketProtocolError.UnmaskedClientFrame;
        }

        if (header.IsControl)
        {
            if (!header.Fin)
            {
                return WebSocketProtocolError.FragmentedControlFrame;
            }
            return header.PayloadLength > MaxControlPayload ? WebSocketProtocolError.ControlFrameTooLong : WebSocketProtocolError.None;
        }

        if (opcode == WebSocketOpcode.Continuation)
        {
            if (!_messageOpen)
            {
                return WebSocketProtocolError.ContinuationWithoutStart;
            }
        }
        else
        {
            if (_messageOpen)
            {
                return WebSocketProtocolError.DataFrameInsideFragmentedMessage;
            }
            if (opcode == WebSocketOpcode.Binary && !_limits.AcceptBinary)
            {
                return WebSocketProtocolError.BinaryMessage;
            }
        }

        // Size is judged here, from the header, before a single payload byte is buffered. Sizes are exact payload
        // bytes; the number of fragments is bounded on its own, so endless empty fragments cannot stand in for bytes.
        // _messageLength is 0 at the first frame of a message (CompleteMessage reset it).
        var length = header.PayloadLength;
        if (length > _limits.MaxMessageSize - _messageLength)
        {
            return WebSocketProtocolError.MessageTooBig;
        }
        if (_messageOpen || !header.Fin)
        {
            if (length > _limits.MaxContinuationSize - _messageLength)
            {
                return WebSocketProtocolError.FragmentedMessageTooBig;
            }
            var fragments = _messageOpen ? _fragmentCount + 1 : 1;
            if (fragments > _limits.MaxFragments)
            {
                return WebSocketProtocolError.TooManyFragments;
            }
            _fragmentCount = fragments;
        }
        return WebSocketProtocolError.None;
    }

    private void StartDataFrame(in FrameHeader header)
    {
        if (header.Opcode is WebSocketOpcode.Text or WebSocketOpcode.Binary)
        {
            _binary = header.Opcode == WebSocketOpcode.Binary;
            _compressed = header.Rsv == FrameHeader.Rsv1;
            _utf8.Reset();
            _messageLength = 0;
            _messagesStarted++;
        }

        _frameFin = header.Fin;
        _frameRemaining = header.PayloadLength;
        _frameMaskingKey = header.MaskingKey;
        _frameKeyOffset = 0;
        _messageOpen = !header.Fin;
        _inPayload = _frameRemaining > 0;
    }

    // Returns false when the buffer ran out mid-payload; true with an event (message complete or error) or with
    // Kind None when the frame is done but the message continues.
    private bool ReadPayload(ref ReadOnlySequence<byte> buffer, out WebSocketReadEvent readEvent)
    {
        readEvent = default;
        if (buffer.IsEmpty)
        {
            return false;
        }

        var first = buffer.FirstSpan;
        var fromFirst = first.Length >= _frameRemaining || buffer.IsSingleSegment;
        var take = (int)Math.Min(_frameRemaining, fromFirst ? first.Length : buffer.Length);

        // The buffer grows with the bytes that actually arrived (up to what the header announced), so a peer that
        // announces a large frame and then dribbles costs memory for what it sent, not for what it promised.
        // Sizes fit in int: they were checked against MaxMessageSize, which is capped at Array.MaxLength.
        var bound = _frameFin ? _messageLength + _frameRemaining : _limits.MaxMessageSize;
        EnsureMessageCapacity(_messageLength + take, (int)bound);

        var destination = _message.AsSpan(_messageLength, take);
        if (fromFirst)
        {
            first[..take].CopyTo(destination);
        }
        else
        {
            buffer.Slice(0, take).CopyTo(destination);
        }
        buffer = buffer.Slice(take);

        if (_frameMaskingKey != 0)
        {
            _frameKeyOffset = WebSocketMasking.Apply(destination, _frameMaskingKey, _frameKeyOffset);
        }
        _messageLength += take;
        _frameRemaining -= take;

        // Fail fast: the bytes just read are validated before waiting for the rest of the frame or message.
        if (!_binary && !_compressed && !_utf8.TryAppend(destination))
        {
            readEvent = Fail(WebSocketProtocolError.InvalidUtf8Text);
            return true;
        }

        if (_frameRemaining > 0)
        {
            return false;
        }

        _inPayload = false;
        if (_frameFin)
        {
            readEvent = CompleteMessage();
        }
        return true;
    }

    private WebSocketReadEvent CompleteMessage()
    {
        if (_compressed)
        {
            return CompleteCompressedMessage();
        }
        if (!_binary && !_utf8.IsComplete)
        {
            return Fail(WebSocketProtocolError.InvalidUtf8Text);
        }

        _messageOpen = false;
        _fragmentCount = 0;
        var length = _messageLength;
        _messageLength = 0;
        var payload = ReadOnlyMemory<byte>.Empty;
        if (_message is not null)
        {
            payload = new ReadOnlyMemory<byte>(_message, 0, length);
            _delivered = _message;
            _message = null;
        }
        return new WebSocketReadEvent(_binary ? WebSocketEventKind.Binary : WebSocketEventKind.Text, payload, 0, WebSocketProtocolError.None);
    }

    // The whole compressed payload is here: inflate it (bounded by message_size_limit), then judge the text.
    private WebSocketReadEvent CompleteCompressedMessage()
    {
        Debug.Assert(_inflater is not null);
        var compressed = _message is null ? ReadOnlyMemory<byte>.Empty : new ReadOnlyMemory<byte>(_message, 0, _messageLength);
        var error = _inflater.Inflate(compressed, _limits.MaxMessageSize, out var inflated, out var length);
        ReturnMessage();
        _messageOpen = false;
        _fragmentCount = 0;
        _compressed = false;
        if (error != WebSocketProtocolError.None)
        {
            return Fail(error);
        }
        if (!_binary && !Utf8Validator.IsValid(inflated.AsSpan(0, length)))
        {
            _pool.Return(inflated!);
            return Fail(WebSocketProtocolError.InvalidUtf8Text);
        }
        _delivered = inflated;
        return new WebSocketReadEvent(_binary ? WebSocketEventKind.Binary : WebSocketEventKind.Text,
            new ReadOnlyMemory<byte>(inflated, 0, length), 0, WebSocketProtocolError.None);
    }

    private WebSocketReadEvent ReadControlFrame(in FrameHeader header, in ReadOnlySequence<byte> source)
    {
        var length = (int)header.PayloadLength;
        var memory = ReadOnlyMemory<byte>.Empty;
        if (length > 0)
        {
            // Rented like a message buffer and returned at the next call: a connection that receives a pong every
            // ping interval does not keep a control buffer of its own while idle (issue 10).
            var control = _pool.Rent(length);
            _delivered = control;
            var payload = control.AsSpan(0, length);
            source.CopyTo(payload);
            if (header.Masked)
            {
                WebSocketMasking.Apply(payload, header.MaskingKey, 0);
            }
            memory = new ReadOnlyMemory<byte>(control, 0, length);
        }
        switch (header.Opcode)
        {
            case WebSocketOpcode.Ping:
                return new WebSocketReadEvent(WebSocketEventKind.Ping, memory, 0, WebSocketProtocolError.None);
            case WebSocketOpcode.Pong:
                return new WebSocketReadEvent(WebSocketEventKind.Pong, memory, 0, WebSocketProtocolError.None);
            default:
                Debug.Assert(header.Opcode == WebSocketOpcode.Close);
                return ReadClose(memory);
        }
    }

    private WebSocketReadEvent ReadClose(ReadOnlyMemory<byte> payload)
    {
        if (payload.Length == 0)
        {
            Finish();
            return new WebSocketReadEvent(WebSocketEventKind.Close, ReadOnlyMemory<byte>.Empty, WebSocketCloseCodes.NoStatusReceived, WebSocketProtocolError.None);
        }
        if (payload.Length == 1)
        {
            return Fail(WebSocketProtocolError.ClosePayloadTooShort);
        }

        var code = BinaryPrimitives.ReadUInt16BigEndian(payload.Span);
        if (!WebSocketCloseCodes.IsValidOnWire(code))
        {
            return Fail(WebSocketProtocolError.InvalidCloseCode);
        }
        var reason = payload[2..];
        if (!Utf8Validator.IsValid(reason.Span))
        {
            return Fail(WebSocketProtocolError.InvalidUtf8CloseReason);
        }
        Finish();
        return new WebSocketReadEvent(WebSocketEventKind.Close, reason, code, WebSocketProtocolError.None);
    }

    private WebSocketReadEvent Fail(WebSocketProtocolError error)
    {
        Finish();
        return new WebSocketReadEvent(WebSocketEventKind.ProtocolError, ReadOnlyMemory<byte>.Empty, WebSocketProtocolErrors.GetCloseCode(error), error);
    }

    private void Finish()
    {
        _finished = true;
        _inPayload = false;
        _messageOpen = false;
        ReturnMessage();
    }

    // Makes room for `required` bytes; grows by doubling (at least MinMessageBufferSize) but never past `bound`,
    // the most this message can still need, so a single frame whose payload is all here gets an exact buffer.
    private void EnsureMessageCapacity(int required, int bound)
    {
        var current = _message;
        if (current is not null && current.Length >= required)
        {
            return;
        }

        var doubled = Math.Max((long)(current?.Length ?? 0) * 2, MinMessageBufferSize);
        var size = (int)Math.Max(required, Math.Min(doubled, bound));
        var next = _pool.Rent(size);
        if (current is not null)
        {
            current.AsSpan(0, _messageLength).CopyTo(next);
            _pool.Return(current);
        }
        _message = next;
    }

    private void ReturnMessage()
    {
        if (_message is { } message)
        {
            _message = null;
            _messageLength = 0;
            _pool.Return(message);
        }
    }

    private void ReturnDelivered()
    {
        if (_delivered is { } delivered)
        {
            _delivered = null;
            _pool.Return(delivered);
        }
    }
}
