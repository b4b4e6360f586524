using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EmitHub.Net.WebSockets;

/// <summary>
/// XOR masking of frame payloads (RFC 6455 §5.3). Masking and unmasking are the same operation. A payload that
/// arrives in pieces is unmasked piece by piece by carrying the key offset (payload index mod 4) between calls.
/// </summary>
public static class WebSocketMasking
{
    /// <summary>
    /// XORs <paramref name="data"/> in place with <paramref name="maskingKey"/> (wire order, little-endian as in
    /// <see cref="FrameHeader.MaskingKey"/>), starting at key byte <paramref name="keyOffset"/> (0-3). Returns the key
    /// offset for the byte after <paramref name="data"/>. Uses 256/128-bit vectors when the hardware has them.
    /// </summary>
    public static int Apply(Span<byte> data, uint maskingKey, int keyOffset)
    {
        if (data.IsEmpty)
        {
            return keyOffset;
        }

        // Rotate so that key byte [keyOffset] lines up with data[0]; afterwards every 4-byte lane uses the same key.
        var rotated = BitOperations.RotateRight(maskingKey, (keyOffset & 3) * 8);
        var native = BitConverter.IsLittleEndian ? rotated : BinaryPrimitives.ReverseEndianness(rotated);

        ref var start = ref MemoryMarshal.GetReference(data);
        nuint length = (nuint)data.Length;
        nuint i = 0;

        if (Vector256.IsHardwareAccelerated && length >= (nuint)Vector256<byte>.Count)
        {
            var key256 = Vector256.Create(native).AsByte();
            var last = length - (nuint)Vector256<byte>.Count;
            for (; i <= last; i += (nuint)Vector256<byte>.Count)
            {
                var v = Vector256.LoadUnsafe(ref start, i);
                (v ^ key256).StoreUnsafe(ref start, i);
            }
        }

        if (Vector128.IsHardwareAccelerated && length - i >= (nuint)Vector128<byte>.Count)
        {
            var key128 = Vector128.Create(native).AsByte();
            var last = length - (nuint)Vector128<byte>.Count;
            for (; i <= last; i += (nuint)Vector128<byte>.Count)
            {
                var v = Vector128.LoadUnsafe(ref start, i);
                (v ^ key128).StoreUnsafe(ref start, i);
            }
        }

        var key64 = ((ulong)native << 32) | native;
        for (; i + 8 <= length; i += 8)
        {
            ref var p = ref Unsafe.Add(ref start, i);
            Unsafe.WriteUnaligned(ref p, Unsafe.ReadUnaligned<ulong>(ref p) ^ key64);
        }

        // Every step above moved a multiple of 4 bytes, so the tail starts at key byte [keyOffset] again.
        for (var k = 0; i < length; i++, k++)
        {
            Unsafe.Add(ref start, i) ^= (byte)(rotated >> ((k & 3) * 8));
        }

        return (int)(((nuint)keyOffset + length) & 3);
    }
}
