using System.Text.Json;
using EmitHub.Core.Fanout;

namespace EmitHub.Core.Channels;

/// <summary>Building the status envelopes (SPEC §3, §6) and handing owned frames to one subscriber.</summary>
public sealed partial class ChannelRegistry
{
    private OutboundMessage BuildNotice(Guid channelId, string status, string message)
    {
        var writer = EnvelopeWriter.ForCurrentThread(_encoder);
        var json = writer.Begin();
        EnvelopeWriter.WriteHead(json, status, message, channelId, Now());
        json.WriteNull("data"u8);
        json.WriteEndObject();
        return writer.Complete(0);
    }

    /// <summary>A <c>broadcast</c> envelope. <paramref name="sequence"/> 0 leaves the <c>sequence</c> member out: in a
    /// cluster the store of record gives it and adds it when the message is read.</summary>
    private OutboundMessage BuildBroadcast(Guid channelId, BroadcastRequest request, DateTimeOffset timestamp, long sequence,
        out ReadOnlyMemory<byte> payload)
    {
        var writer = EnvelopeWriter.ForCurrentThread(_encoder);
        var json = writer.Begin();
        EnvelopeWriter.WriteHead(json, "broadcast", request.Content, channelId, timestamp);
        if (request.DataJson.IsEmpty)
        {
            json.WriteNull("data"u8);
        }
        else
        {
            json.WritePropertyName("data"u8);
            json.WriteRawValue(request.DataJson.Span, skipInputValidation: true);
        }
        return CompleteMessage(writer, json, sequence, out payload);
    }

    /// <summary>A <c>client_message</c> envelope relaying <paramref name="text"/>; <paramref name="sequence"/> as in
    /// <see cref="BuildBroadcast"/>.</summary>
    private OutboundMessage BuildClientMessage(Channel channel, IChannelSubscriber sender, string senderName, string text,
        DateTimeOffset timestamp, long sequence, out ReadOnlyMemory<byte> payload)
    {
        var writer = EnvelopeWriter.ForCurrentThread(_encoder);
        var json = writer.Begin();
        EnvelopeWriter.WriteHead(json, "client_message", $"Client message in {channel.Name}: {text}", channel.Id, timestamp);
        json.WriteStartObject("data"u8);
        json.WriteString("original_message"u8, text);
        json.WriteString("sender"u8, senderName);
        json.WriteString("connection_id"u8, sender.ConnectionId);
        json.WriteEndObject();
        return CompleteMessage(writer, json, sequence, out payload);
    }

    private static OutboundMessage CompleteMessage(EnvelopeWriter writer, Utf8JsonWriter json, long sequence, out ReadOnlyMemory<byte> payload)
    {
        if (sequence > 0)
        {
            json.WriteNumber("sequence"u8, sequence);
        }
        json.WriteEndObject();
        return writer.Complete(sequence, out payload);
    }

    private static void EnqueueOwned(IChannelSubscriber subscriber, OutboundMessage message)
    {
        subscriber.TryEnqueue(message);
        message.Release();
    }

    private OutboundMessage BuildConnected(Channel channel, Guid connectionId, bool? recovered)
    {
        var writer = EnvelopeWriter.ForCurrentThread(_encoder);
        var json = writer.Begin();
        EnvelopeWriter.WriteHead(json, "connected", $"Connected to channel: {channel.Name}", channel.Id, Now());
        json.WriteStartObject("data"u8);
        json.WritePropertyName("channel"u8);
        // The snapshot counts this connection, which joins right after its connected envelope.
        var snapshot = channel.Snapshot();
        snapshot = snapshot with { Stats = snapshot.Stats with { Connections = snapshot.Stats.Connections + 1 } };
        JsonSerializer.Serialize(json, snapshot, CoreJsonContext.Default.ChannelSnapshot);
        json.WriteString("connection_id"u8, connectionId);
        json.WriteString("epoch"u8, channel.Epoch);
        json.WriteNumber("last_sequence"u8, channel.PublishedSequence);
        if (recovered is bool value)
        {
            json.WriteBoolean("recovered"u8, value);
        }
        json.WriteEndObject();
        json.WriteEndObject();
        return writer.Complete(0);
    }
}
