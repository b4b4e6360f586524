using System.Text.Encodings.Web;
using System.Text.Json;
using EmitHub.Core.Fanout;

namespace EmitHub.Core.Channels;

/// <summary>
/// Serializes the seed's envelope <c>{"status","message","channel_id","timestamp","data"[,"sequence"]}</c> once,
/// straight into a <see cref="FrameBuilder"/> (pooled buffer, header space in front, framed in place), so the result
/// is one <see cref="OutboundMessage"/> shared by every subscriber (STYLE §7). One instance per thread
/// (<see cref="ForCurrentThread"/>): the JSON writer and the builder are reused, so an envelope costs one pooled
/// buffer and one message object.
/// </summary>
internal sealed class EnvelopeWriter
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
    private readonly FrameBuilder _builder;
    private readonly IFrameEncoder _encoder;

    private EnvelopeWriter(IFrameEncoder encoder)
    {
        _encoder = encoder;
        _builder = new FrameBuilder(encoder);
        _json = new Utf8JsonWriter(_builder, s_writerOptions);
    }

    /// <summary>The calling thread's writer for <paramref name="encoder"/>.</summary>
    public static EnvelopeWriter ForCurrentThread(IFrameEncoder encoder)
    {
        var writer = t_instance;
        if (writer is null || !ReferenceEquals(writer._encoder, encoder))
        {
            t_instance = writer = new EnvelopeWriter(encoder);
        }
        return writer;
    }

    /// <summary>Starts an envelope and returns the JSON writer positioned before <c>{</c>.</summary>
    public Utf8JsonWriter Begin()
    {
        _builder.Reset();
        _json.Reset(_builder);
        return _json;
    }

    /// <summary>Flushes the JSON and frames it as one final text frame (refcount 1, owned by the caller).</summary>
    public OutboundMessage Complete(long sequence) => Complete(sequence, out _);

    /// <summary>As <see cref="Complete(long)"/>, also giving the envelope JSON inside the frame (valid while the
    /// returned message is referenced).</summary>
    public OutboundMessage Complete(long sequence, out ReadOnlyMemory<byte> payload)
    {
        _json.Flush();
        var headerLength = _encoder.GetTextHeaderLength(_builder.PayloadLength);
        var message = _builder.Build(sequence);
        payload = message.Frame[headerLength..];
        return message;
    }

    /// <summary>Frames an envelope whose JSON is already known (replay from the store).</summary>
    public static OutboundMessage FromJson(IFrameEncoder encoder, ReadOnlySpan<byte> envelopeJson, long sequence)
    {
        var builder = ForCurrentThread(encoder)._builder;
        builder.Reset();
        envelopeJson.CopyTo(builder.GetSpan(envelopeJson.Length));
        builder.Advance(envelopeJson.Length);
        return builder.Build(sequence);
    }

    /// <summary>True for a <c>broadcast</c> envelope (the head as <see cref="WriteHead"/> writes it), which
    /// <c>replay_last</c> keeps; false for a <c>client_message</c>.</summary>
    public static bool IsBroadcast(ReadOnlySpan<byte> envelopeJson) => envelopeJson.StartsWith("{\"status\":\"broadcast\""u8);

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
}
