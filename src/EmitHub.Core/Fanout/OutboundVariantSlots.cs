namespace EmitHub.Core.Fanout;

/// <summary>
/// The slots of <see cref="OutboundMessage.GetVariant{TState}"/>: each names one way a framed message is re-encoded
/// for a kind of subscriber, built lazily once per message and shared by every subscriber of that kind.
/// </summary>
public static class OutboundVariantSlots
{
    /// <summary>The text frame compressed with permessage-deflate (RFC 7692) without context takeover, RSV1 set.</summary>
    public const int PerMessageDeflate = 0;

    /// <summary>The envelope as one Server-Sent Events event (<c>id:</c>, <c>event:</c>, <c>data:</c> lines).</summary>
    public const int ServerSentEvent = 1;

    /// <summary>Number of slots.</summary>
    public const int Count = 2;
}
