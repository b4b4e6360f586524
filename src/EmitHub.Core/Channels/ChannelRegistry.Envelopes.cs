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
