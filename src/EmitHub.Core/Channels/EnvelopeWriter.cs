using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using EmitHub.Core.Fanout;

namespace EmitHub.Core.Channels;

/// <summary>
/// Serializes the seed's envelope <c>{"status","message","channel_id","timestamp","data"[,"sequence"]}</c> once,
/// straight into a pooled buffer with room for the WebSocket frame header in front, and frames it in place
/// (header right-aligned before the payload). The result is shared by every subscriber (STYLE §7).
/// One instance per thread (<see cref="ForCurrentThread"/>): the JSON writer and scratch state are reused.
/// </summary>
internal sealed class EnvelopeWriter : IBufferWriter<byte>
{
    private static readonly JsonWriterOptions s_writerOptions = new()
    {
        // Envelopes are never embedded in HTML, so non-ASCII text goes out as UTF-8 instead of \u escapes.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    [ThreadStatic]
    private static EnvelopeWriter? t_instance;

    private readonly Utf8JsonWriter _json;
    private byte[] _buffer = [];
    private int _start;
    private int _position;

    private EnvelopeWriter()
    {
        _json = new Utf8JsonWriter(this, s_writerOptions);
    }

    /// <summary>The calling thread's writer.</summary>
    public static EnvelopeWriter ForCurrentThread() => t_instance ??= new EnvelopeWriter();

    /// <summary>Starts an envelope: rents a buffer and returns the JSON writer positioned before <c>{</c>.</summary>
    public Utf8JsonWriter Begin(IFrameEncoder encoder, int sizeHint)
    {
        _start = encoder.MaxHeaderLength;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(256, _start + sizeHint));
        _position = _start;
        _json.Reset(this);
        return _json;
    }

    /// <summary>Flushes the JSON, writes the frame header in front and hands the buffer to an <see cref="OutboundMessage"/>.</summary>
    public OutboundMessage Complete(IFrameEncoder encoder, long sequence) => Complete(encoder, sequence, out _);

    /// <summary>As <see cref="Complete(IFrameEncoder, long)"/>, also giving the envelope JSON inside the frame
    /// (valid while the returned message is referenced).</summary>
    public OutboundMessage Complete(IFrameEncoder encoder, long sequence, out ReadOnlyMemory<byte> payload)
    {
        _json.Flush();
        var payloadLength = _position - _start;
        var headerLength = encoder.GetTextHeaderLength(payloadLength);
        var frameStart = _start - headerLength;
        encoder.WriteTextHeader(_buffer.AsSpan(frameStart, headerLength), payloadLength);
        var message = OutboundMessage.FromRented(_buffer, frameStart, headerLength + payloadLength, sequence);
        payload = new ReadOnlyMemory<byte>(_buffer, _start, payloadLength);
        _buffer = [];
        return message;
    }

    /// <summary>Frames an envelope whose JSON is already known (replay from the store).</summary>
    public static OutboundMessage FromJson(IFrameEncoder encoder, ReadOnlySpan<byte> envelopeJson, long sequence)
    {
        var headerLength = encoder.GetTextHeaderLength(envelopeJson.Length);
        var buffer = ArrayPool<byte>.Shared.Rent(headerLength + envelopeJson.Length);
        encoder.WriteTextHeader(buffer.AsSpan(0, headerLength), envelopeJson.Length);
        envelopeJson.CopyTo(buffer.AsSpan(headerLength));
        return OutboundMessage.FromRented(buffer, 0, headerLength + envelopeJson.Length, sequence);
    }

    /// <summary>Writes the common head: status, message, channel_id, timestamp.</summary>
    public static void WriteHead(Utf8JsonWriter json, string status, string message, Guid channelId, DateTimeOffset timestamp)
    {
        json.WriteStartObject();
        json.WriteString("status"u8, status);
        json.WriteString("message"u8, message);
        json.WriteString("channel_id"u8, channelId);
        Span<byte> time = stackalloc byte[Rfc3339.MaxLength];
        var length = Rfc3339.Format(timestamp, time);
        json.WriteString("timestamp"u8, time[..length]);
    }

    void IBufferWriter<byte>.Advance(int count) => _position += count;

    Memory<byte> IBufferWriter<byte>.GetMemory(int sizeHint)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_position);
    }

    Span<byte> IBufferWriter<byte>.GetSpan(int sizeHint)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_position);
    }

    private void Ensure(int sizeHint)
    {
        var needed = _position + Math.Max(sizeHint, 1);
        if (needed <= _buffer.Length)
        {
            return;
        }
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer.Length * 2));
        _buffer.AsSpan(0, _position).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }
}
