using System.Buffers;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace EmitHub.Core.Fanout;

/// <summary>
/// One server-to-client message, serialized and framed once (WebSocket frame header + payload) into a pooled
/// buffer that every subscriber's send path shares by reference count (STYLE §7, SignalR SerializedHubMessage).
/// The creator holds the first reference; each queue that accepts it calls <see cref="AddRef"/>, and each holder
/// calls <see cref="Release"/> exactly once when done; the last release returns the buffer to the pool.
/// </summary>
public sealed class OutboundMessage
{
    private byte[] _buffer;
    private int _offset;
    private int _length;
    // On a cache line of its own: every subscriber's send loop decrements it, on every core, while those loops and the
    // publisher keep reading _buffer/_offset/_length, and the next broadcast's message is usually allocated right
    // after this one; sharing a line with either made each release a miss for the other cores.
    private PaddedCount _refs;

    // Lazily built variants of this message (permessage-deflate, Server-Sent Events), one per slot, owned by this
    // message and released with it. A slot holding s_noVariant means "the builder declined: send the original".
    private OutboundMessage?[]? _variants;
    private static readonly OutboundMessage s_noVariant = new([], 0, 0);

    private OutboundMessage(byte[] buffer, int offset, int length)
    {
        _buffer = buffer;
        _offset = offset;
        _length = length;
        _refs.Value = 1;
    }

    /// <summary>The framed bytes (header + payload) as they go on the wire.</summary>
    public ReadOnlyMemory<byte> Frame
    {
        get
        {
            Debug.Assert(Volatile.Read(ref _refs.Value) > 0, "OutboundMessage used after its last release.");
            return new ReadOnlyMemory<byte>(_buffer, _offset, _length);
        }
    }

    /// <summary>Length of <see cref="Frame"/> in bytes.</summary>
    public int Length => _length;

    /// <summary>Per-channel sequence of a <c>broadcast</c>/<c>client_message</c>, 0 for other envelopes.</summary>
    public long Sequence { get; init; }

    /// <summary>Current number of references (diagnostics and tests only).</summary>
    public int RefCount => Volatile.Read(ref _refs.Value);

    /// <summary>
    /// Wraps a rented buffer whose bytes <c>[offset, offset + length)</c> hold one complete frame. Takes ownership
    /// of <paramref name="rentedBuffer"/>: it goes back to <see cref="ArrayPool{T}.Shared"/> on the last release.
    /// </summary>
    public static OutboundMessage FromRented(byte[] rentedBuffer, int offset, int length, long sequence = 0)
        => new(rentedBuffer, offset, length) { Sequence = sequence };

    /// <summary>Copies an already framed message into a fresh pooled buffer (refcount 1).</summary>
    public static OutboundMessage Copy(ReadOnlySpan<byte> frame, long sequence = 0)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(frame.Length, 1));
        frame.CopyTo(buffer);
        return FromRented(buffer, 0, frame.Length, sequence);
    }

    /// <summary>
    /// Returns the variant of this message in <paramref name="slot"/> (0 to <see cref="OutboundVariantSlots.Count"/> - 1),
    /// building it on first use with <paramref name="build"/> — once per message, however many subscribers ask, so a
    /// broadcast is compressed or re-encoded once and shared like the original (uWebSockets' shared compressor).
    /// <paramref name="build"/> returns a new message (refcount 1, owned by this one from then on) or null to decline
    /// (e.g. compression would not pay); then this message itself is returned. The variant stays valid while the
    /// caller holds a reference to this message. Concurrent first calls may both build; one result wins, the other is
    /// released. Thread-safe.
    /// </summary>
    public OutboundMessage GetVariant<TState>(int slot, TState state, Func<OutboundMessage, TState, OutboundMessage?> build)
    {
        ArgumentNullException.ThrowIfNull(build);
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, OutboundVariantSlots.Count);
        var variants = Volatile.Read(ref _variants);
        if (variants is null)
        {
            variants = new OutboundMessage?[OutboundVariantSlots.Count];
            variants = Interlocked.CompareExchange(ref _variants, variants, null) ?? variants;
        }
        var existing = Volatile.Read(ref variants[slot]);
        if (existing is null)
        {
            var built = build(this, state) ?? s_noVariant;
            existing = Interlocked.CompareExchange(ref variants[slot], built, null);
            if (existing is null)
            {
                existing = built;
            }
            else if (!ReferenceEquals(built, s_noVariant))
            {
                built.Release();
            }
        }
        return ReferenceEquals(existing, s_noVariant) ? this : existing;
    }

    /// <summary>Takes one more reference. Throws when the message was already returned to the pool.</summary>
    public void AddRef()
    {
        int current;
        do
        {
            current = Volatile.Read(ref _refs.Value);
            if (current <= 0)
            {
                ThrowReleased();
            }
        }
        while (Interlocked.CompareExchange(ref _refs.Value, current + 1, current) != current);
    }

    /// <summary>Drops one reference; the last one returns the buffer to the pool. Throws on a double release.</summary>
    public void Release()
    {
        var remaining = Interlocked.Decrement(ref _refs.Value);
        if (remaining == 0)
        {
            if (Interlocked.Exchange(ref _variants, null) is { } variants)
            {
                foreach (var variant in variants)
                {
                    if (variant is not null && !ReferenceEquals(variant, s_noVariant))
                    {
                        variant.Release();
                    }
                }
            }
            var buffer = _buffer;
            _buffer = [];
            _offset = 0;
            _length = 0;
            ArrayPool<byte>.Shared.Return(buffer);
        }
        else if (remaining < 0)
        {
            ThrowReleased();
        }
    }

    [StackTraceHidden]
    private static void ThrowReleased() =>
        throw new InvalidOperationException("OutboundMessage was released more times than it was referenced.");

    /// <summary>An int at byte 64 of a 192-byte struct: at least 64 bytes from the message's other fields and 124 from
    /// the next object, so the 64-byte line it sits on holds nothing else wherever the object lands (objects are only
    /// 8-byte aligned). The larger gap after it also keeps the next message out of the adjacent line that x64's
    /// prefetcher pairs with it.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 192)]
    private struct PaddedCount
    {
        [FieldOffset(64)]
        public int Value;
    }
}
