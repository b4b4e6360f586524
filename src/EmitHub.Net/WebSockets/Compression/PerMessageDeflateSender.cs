using EmitHub.Core.Fanout;

namespace EmitHub.Net.WebSockets.Compression;

/// <summary>
/// The send side of permessage-deflate for one connection: picks, for each shared frame leaving the send loop, what
/// goes on the wire. In the shared form (<c>server_no_context_takeover</c>) that is the message's compressed variant,
/// built once per broadcast by whichever subscriber asks first (<see cref="OutboundMessage.GetVariant{TState}"/>);
/// only messages no longer than the agreed <c>server_max_window_bits</c> window use it, since a back-reference never
/// reaches further back than the message's own start. In the per-connection form this connection's own compressor
/// (context takeover) runs for every message. Messages under <see cref="PerMessageDeflateCompressor.MinCompressedPayload"/>
/// go uncompressed either way. Used by the send loop only.
/// </summary>
public sealed class PerMessageDeflateSender : IDisposable
{
    private readonly PerMessageDeflateCompressor? _ownCompressor;
    private readonly int _maxSharedPayload;

    /// <summary>Creates the sender for the agreed <paramref name="parameters"/> under <paramref name="mode"/>.</summary>
    public PerMessageDeflateSender(PerMessageDeflateParameters parameters, WebSocketCompressionMode mode)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!parameters.ServerNoContextTakeover && mode == WebSocketCompressionMode.PerConnection)
        {
            _ownCompressor = new PerMessageDeflateCompressor();
        }
        _maxSharedPayload = parameters.ServerMaxWindowBits >= PerMessageDeflateParameters.MaxWindowBits
            ? int.MaxValue
            : 1 << parameters.ServerMaxWindowBits;
    }

    /// <summary>True when this connection compresses with its own context (per_connection).</summary>
    public bool HasOwnContext => _ownCompressor is not null;

    /// <summary>
    /// The bytes to send for <paramref name="message"/>: its shared compressed variant, a frame compressed by this
    /// connection (added to <paramref name="owned"/>, to be released after the send), or the original frame.
    /// </summary>
    public ReadOnlyMemory<byte> Select(OutboundMessage message, List<OutboundMessage> owned)
    {
        if (_ownCompressor is not null)
        {
            var compressed = _ownCompressor.Compress(message);
            if (compressed is null)
            {
                return message.Frame;
            }
            owned.Add(compressed);
            return compressed.Frame;
        }
        // The exact payload length, not a bound from the frame length: a payload even one byte over the client's
        // server_max_window_bits window may carry back-references the client's inflater cannot follow
        // (RFC 7692 §7.1.2.1), so it goes uncompressed.
        if (message.Length - ServerFrame.GetHeaderLength(message.Frame.Span) > _maxSharedPayload)
        {
            return message.Frame;
        }
        return message.GetVariant(OutboundVariantSlots.PerMessageDeflate, 0, static (m, _) => PerMessageDeflateCompressor.CompressShared(m)).Frame;
    }

    /// <summary>Frees this connection's compressor, if any.</summary>
    public void Dispose() => _ownCompressor?.Dispose();
}
