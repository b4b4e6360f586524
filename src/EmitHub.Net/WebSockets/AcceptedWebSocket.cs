using EmitHub.Net.Http;

namespace EmitHub.Net.WebSockets;

/// <summary>
/// A WebSocket whose opening handshake was answered 101, with what its run needs copied out of the request (channel
/// id, <c>?after=</c>/<c>?epoch=</c>, the token's subject, the multiplex bound), so the HTTP request head, response and
/// connection are garbage while the WebSocket lives. Returned by <see cref="WebSocketEndpoint.AcceptAsync"/>.
/// </summary>
internal sealed class AcceptedWebSocket(WebSocketEndpoint endpoint, WebSocketConnection webSocket, AcceptedWebSocket.Kind mode,
    Guid channelId, long? after, string? epoch, string? subject, int maxSubscriptions) : IUpgradedConnection
{
    /// <summary>What the socket serves.</summary>
    internal enum Kind : byte
    {
        /// <summary>One channel (<c>/api/v1/channels/{id}/ws</c>).</summary>
        Channel,

        /// <summary>The conformance echo endpoint (<c>[websocket] echo_path</c>).</summary>
        Echo,

        /// <summary>The multiplexed socket (<c>/api/v1/ws</c>).</summary>
        Multiplexed,
    }

    public WebSocketConnection WebSocket { get; } = webSocket;

    public Kind Mode { get; } = mode;

    public Guid ChannelId { get; } = channelId;

    public long? After { get; } = after;

    public string? Epoch { get; } = epoch;

    public string? Subject { get; } = subject;

    public int MaxSubscriptions { get; } = maxSubscriptions;

    /// <inheritdoc />
    public Task RunAsync(CancellationToken cancellationToken) => endpoint.RunAsync(this, cancellationToken);
}
