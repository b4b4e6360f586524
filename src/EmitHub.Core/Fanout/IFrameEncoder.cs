namespace EmitHub.Core.Fanout;

/// <summary>
/// Writes the header of an unmasked server-to-client frame (RFC 6455 §5.2). Core knows no framing: EmitHub.Net
/// supplies the implementation, so a message is framed once, with its header placed right before the payload.
/// </summary>
public interface IFrameEncoder
{
    /// <summary>The largest header this encoder writes, in bytes (14 covers every RFC 6455 header).</summary>
    int MaxHeaderLength { get; }

    /// <summary>Length in bytes of the header of a final text frame carrying <paramref name="payloadLength"/> bytes.</summary>
    int GetTextHeaderLength(long payloadLength);

    /// <summary>Writes the header of a final (FIN=1), unmasked text frame into <paramref name="destination"/>,
    /// which is exactly <see cref="GetTextHeaderLength"/> bytes long.</summary>
    void WriteTextHeader(Span<byte> destination, long payloadLength);
}
