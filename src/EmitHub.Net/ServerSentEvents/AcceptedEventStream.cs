using EmitHub.Core.Channels;
using EmitHub.Net.Http;
using EmitHub.Net.WebSockets;

namespace EmitHub.Net.ServerSentEvents;

/// <summary>
/// An event stream whose <c>200 text/event-stream</c> head was sent, with what its join needs copied out of the
/// request (channel id, position, epoch, the token's subject), so the HTTP request head and connection are garbage
/// while the stream lives. Returned by <see cref="ServerSentEventsEndpoint.AcceptAsync"/>.
/// </summary>
internal sealed class AcceptedEventStream(ChannelRegistry registry, ServerSentEventsConnection stream, Guid channelId, long? after,
    string? epoch, string? subject) : IUpgradedConnection
{
    /// <inheritdoc />
    public Task RunAsync(CancellationToken cancellationToken) =>
        stream.RunAsync(subscriber => WebSocketEndpoint.JoinAsync(registry, channelId, subscriber, after, epoch, subject, cancellationToken),
            cancellationToken);
}
