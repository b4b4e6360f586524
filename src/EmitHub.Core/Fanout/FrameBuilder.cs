using System.Buffers;

namespace EmitHub.Core.Fanout;

/// <summary>
/// Serializes one message once, straight into a pooled buffer, and frames it in place: the payload is written at
/// offset <see cref="IFrameEncoder.MaxHeaderLength"/>, then the header is written right-aligned just before it, so
/// header + payload are contiguous without a copy. <see cref="Build"/> hands the buffer to an
/// <see cref="OutboundMessage"/> (refcount 1) that every subscriber shares.
/// <code>
/// jsonWriter.Reset(builder);                 // Utf8JsonWriter over the IBufferWriter
/// WriteEnvelope(jsonWriter);
/// jsonWriter.Flush();
/// var message = builder.Build(sequence);     // framed once, refcount 1
/// var recipients = hub.Publish(message);     // each queue takes its own reference
/// message.Release();                         // drop the builder's reference
/// </code>
/// Reusable (one per broadcaster, not thread-safe): after <see cref="Build"/> it starts a new buffer on the next write.
/// </summary>
public sealed class FrameBuilder : IBufferWriter<byte>, IDisposable
{
    private const int DefaultInitialCapacity = 1024;

    private readonly IFrameEncoder _encoder;
    private readonly int _headerSpace;
    private readonly int _initialCapacity;
    private byte[]? _buffer;
    private int _payloadLength;

    /// <summary>Creates a builder framing with <paramref name="encoder"/>; the first buffer rented holds at least <paramref name="initialPayloadCapacity"/> payload bytes.</summary>
    public FrameBuilder(IFrameEncoder encoder, int initialPayloadCapacity = DefaultInitialCapacity)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentOutOfRangeException.ThrowIfNegative(initialPayloadCapacity);
        _encoder = encoder;
        _headerSpace = encoder.MaxHeaderLength;
        _initialCapacity = initialPayloadCapacity;
    }

    /// <summary>Payload bytes written so far.</summary>
    public int PayloadLength => _payloadLength;

    /// <summary>The payload written so far (e.g. to check its size against <c>message_size_limit</c> or to store it).</summary>
    public ReadOnlySpan<byte> WrittenPayload => _buffer is null ? default : _buffer.AsSpan(_headerSpace, _payloadLength);

    /// <inheritdoc/>
    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (_buffer is null || _headerSpace + _payloadLength + count > _buffer.Length)
        {
            throw new InvalidOperationException("Advanced past the memory handed out by GetMemory/GetSpan.");
        }
        _payloadLength += count;
    }

    /// <inheritdoc/>
    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        EnsureCapacity(sizeHint);
        return _buffer.AsMemory(_headerSpace + _payloadLength);
    }

    /// <inheritdoc/>
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        EnsureCapacity(sizeHint);
        return _buffer.AsSpan(_headerSpace + _payloadLength);
    }

    /// <summary>
    /// Frames the payload written so far as one final text frame and returns it as a pooled
    /// <see cref="OutboundMessage"/> owned by the caller (refcount 1). The builder forgets the buffer and is ready for
    /// the next message.
    /// </summary>
    public OutboundMessage Build(long sequence = 0)
    {
        EnsureCapacity(0);
        var buffer = _buffer!;
        var headerLength = _encoder.GetTextHeaderLength(_payloadLength);
        var start = _headerSpace - headerLength;
        _encoder.WriteTextHeader(buffer.AsSpan(start, headerLength), _payloadLength);
        var message = OutboundMessage.FromRented(buffer, start, headerLength + _payloadLength, sequence);
        _buffer = null;
        _payloadLength = 0;
        return message;
    }

    /// <summary>Discards what was written (e.g. serialization failed) and keeps the buffer for the next message.</summary>
    public void Reset() => _payloadLength = 0;

    /// <summary>Returns the current buffer to the pool.</summary>
    public void Dispose()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            _payloadLength = 0;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void EnsureCapacity(int sizeHint)
    {
        var needed = _headerSpace + _payloadLength + Math.Max(sizeHint, 1);
        if (_buffer is not null && _buffer.Length >= needed)
        {
            return;
        }

        var size = Math.Max(needed, _buffer is null ? _headerSpace + _initialCapacity : (int)Math.Min((long)_buffer.Length * 2, Array.MaxLength));
        var next = ArrayPool<byte>.Shared.Rent(size);
        if (_buffer is { } old)
        {
            old.AsSpan(_headerSpace, _payloadLength).CopyTo(next.AsSpan(_headerSpace));
            ArrayPool<byte>.Shared.Return(old);
        }
        _buffer = next;
    }
}
