using EmitHub.Core.Fanout;

namespace EmitHub.Net.WebSockets;

/// <summary>
/// The one table from why Core ends a subscriber (<see cref="SubscriberCloseReason"/>) to what goes on the wire:
/// an RFC 6455 §7.4 close code and a short reason (SPEC §3).
/// </summary>
public static class ChannelCloseCodes
{
    /// <summary>The close code and reason text for <paramref name="reason"/>.</summary>
    public static (ushort Code, string Reason) For(SubscriberCloseReason reason) => reason switch
    {
        SubscriberCloseReason.ChannelStopped => (WebSocketCloseCodes.GoingAway, "Channel stopped"),
        SubscriberCloseReason.ChannelDeleted => (WebSocketCloseCodes.GoingAway, "Channel deleted"),
        SubscriberCloseReason.ChannelNotActive => (WebSocketCloseCodes.PolicyViolation, "Channel is not active"),
        SubscriberCloseReason.ChannelFull => (WebSocketCloseCodes.TryAgainLater, "Channel is full"),
        SubscriberCloseReason.CatchUpBehind => (WebSocketCloseCodes.TryAgainLater, "Replay could not catch up with the live stream; reconnect later"),
        SubscriberCloseReason.ServerShutdown => (WebSocketCloseCodes.GoingAway, "Server shutting down"),
        _ => (WebSocketCloseCodes.InternalError, ""),
    };
}
