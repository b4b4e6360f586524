namespace EmitHub.Net.WebSockets;

/// <summary>Reads the fixed parts of a server frame this process wrote (unmasked, FIN=1; RFC 6455 §5.2).</summary>
internal static class ServerFrame
{
    /// <summary>The RSV1 bit of the first header byte: "Per-Message Compressed" under permessage-deflate (RFC 7692 §6).</summary>
    public const byte Rsv1 = 0x40;

    public static int GetHeaderLength(ReadOnlySpan<byte> frame) => (frame[1] & 0x7F) switch
    {
        126 => 4,
        127 => 10,
        _ => 2,
    };

    /// <summary>The payload after the header (<see cref="GetHeaderLength"/>).</summary>
    public static ReadOnlySpan<byte> GetPayload(ReadOnlySpan<byte> frame) => frame[GetHeaderLength(frame)..];

    public static WebSocketOpcode GetOpcode(ReadOnlySpan<byte> frame) => (WebSocketOpcode)(frame[0] & 0x0F);
}
