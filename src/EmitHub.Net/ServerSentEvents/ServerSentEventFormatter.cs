using System.Buffers;
using System.Text;
using System.Text.Json;
using EmitHub.Core.Fanout;
using EmitHub.Net.WebSockets;

namespace EmitHub.Net.ServerSentEvents;

/// <summary>
/// Turns a framed envelope into one Server-Sent Events event (HTML Living Standard §9.2 "Server-sent events"):
/// <c>id: &lt;sequence&gt;</c> (only on <c>broadcast</c> and <c>client_message</c>, so <c>Last-Event-ID</c> is always a
/// sequence), <c>event: &lt;status&gt;</c>, <c>data: &lt;the envelope JSON&gt;</c>, and the blank line. The envelope JSON
/// has no raw line breaks (they are escaped), so it is always one <c>data:</c> line. Built once per message as its
/// <see cref="OutboundVariantSlots.ServerSentEvent"/> variant and shared by every SSE subscriber.
/// </summary>
public static class ServerSentEventFormatter
{
    /// <summary>A heartbeat comment line (ignored by EventSource, keeps proxies and idle timers from closing the stream).</summary>
    public static ReadOnlySpan<byte> Heartbeat => ": keepalive\n\n"u8;

    /// <summary>The SSE event for <paramref name="message"/> (a server WebSocket frame holding an envelope), refcount 1.
    /// Fits <see cref="OutboundMessage.GetVariant{TState}"/>.</summary>
    public static OutboundMessage Format(OutboundMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var json = ServerFrame.GetPayload(message.Frame.Span);
        var (status, sequence) = ReadStatusAndSequence(json);

        var length = 64 + Encoding.UTF8.GetMaxByteCount(status.Length) + json.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        var span = buffer.AsSpan();
        var written = 0;
        if (sequence is long id)
        {
            Append("id: "u8, span, ref written);
            id.TryFormat(span[written..], out var digits);
            written += digits;
            Append("\n"u8, span, ref written);
        }
        Append("event: "u8, span, ref written);
        written += Encoding.UTF8.GetBytes(status, span[written..]);
        Append("\ndata: "u8, span, ref written);
        Append(json, span, ref written);
        Append("\n\n"u8, span, ref written);
        return OutboundMessage.FromRented(buffer, 0, written, message.Sequence);
    }

    /// <summary>The top-level <c>status</c> and <c>sequence</c> of an envelope ("message" when it has no status).</summary>
    internal static (string Status, long? Sequence) ReadStatusAndSequence(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        string status = "message";
        long? sequence = null;
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return (status, sequence);
        }
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("status"u8))
            {
                reader.Read();
                status = reader.TokenType == JsonTokenType.String ? reader.GetString()! : status;
            }
            else if (reader.ValueTextEquals("sequence"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value))
                {
                    sequence = value;
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return (status, sequence);
    }

    private static void Append(ReadOnlySpan<byte> bytes, Span<byte> destination, ref int written)
    {
        bytes.CopyTo(destination[written..]);
        written += bytes.Length;
    }
}
