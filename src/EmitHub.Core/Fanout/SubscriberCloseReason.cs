namespace EmitHub.Core.Fanout;

/// <summary>
/// Why Core ends a subscriber's connection. Core knows no wire codes: EmitHub.Net maps each reason to one RFC 6455
/// close code and reason text (<c>ChannelCloseCodes</c>), as Kestrel maps a <c>RequestRejectionReason</c> to a status.
/// </summary>
public enum SubscriberCloseReason
{
    /// <summary>The channel was stopped; the subscriber got <c>stopped</c> first (SPEC §3: then close 1001).</summary>
    ChannelStopped,
    /// <summary>The channel was deleted, possibly while the subscriber was joining; it got <c>stopped</c> first when
    /// it had joined (SPEC §3: 1001).</summary>
    ChannelDeleted,
    /// <summary>Refused: the channel is not Active; the subscriber got <c>denied</c> first (SPEC §3: 1008).</summary>
    ChannelNotActive,
    /// <summary>Refused: the channel is at <c>max_connections</c>; the subscriber got <c>denied</c> first (SPEC §3: 1013).</summary>
    ChannelFull,
    /// <summary>A store catch-up (<c>?after=</c>) could not reach the live stream in its bounded number of rounds;
    /// the client should reconnect later (1013).</summary>
    CatchUpBehind,
    /// <summary>The server is shutting down (SPEC §1: 1001).</summary>
    ServerShutdown,
}
