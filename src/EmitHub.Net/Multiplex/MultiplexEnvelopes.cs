using System.Text.Json;
using EmitHub.Core.Channels;
using EmitHub.Core.Fanout;
using EmitHub.Net.WebSockets;

namespace EmitHub.Net.Multiplex;

/// <summary>The envelopes the multiplexed socket itself sends (the seed's shape, <c>data</c> null): <c>error</c>
/// for a bad operation, <c>denied</c> for a refused token, <c>unsubscribed</c>. Channel envelopes come from Core.</summary>
internal static class MultiplexEnvelopes
{
    public static OutboundMessage Error(Guid? channelId, string message) => Build("error", channelId, message);

    public static OutboundMessage Build(string status, Guid? channelId, string message)
    {
        using var builder = new FrameBuilder(WebSocketFrameEncoder.Instance, 256);
        using (var json = new Utf8JsonWriter(builder))
        {
            json.WriteStartObject();
            json.WriteString("status"u8, status);
            json.WriteString("message"u8, message);
            if (channelId is Guid id)
            {
                json.WriteString("channel_id"u8, id);
            }
            else
            {
                json.WriteNull("channel_id"u8);
            }
            json.WriteString("timestamp"u8, Rfc3339.ToString(DateTimeOffset.UtcNow));
            json.WriteNull("data"u8);
            json.WriteEndObject();
        }
        return builder.Build();
    }
}
