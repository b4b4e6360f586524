using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace EmitHub.Net.Transport;

/// <summary>
/// The first attempt of every plain-TCP send on Linux: one non-blocking gathered <c>sendmsg(2)</c>
/// (<c>MSG_DONTWAIT | MSG_NOSIGNAL</c>) made straight from the caller's segments, pinned as <c>fixed</c> locals.
/// Nearly every fan-out send fits the socket buffer and completes here; only when the kernel answers EAGAIN does the
/// caller hand the rest to a <see cref="SocketOperation"/>, whose runtime wait arms EPOLLOUT.
/// <para>
/// Why: the runtime's <see cref="SocketAsyncEventArgs"/> path pins each segment with a <see cref="GCHandle"/>
/// (allocated and freed per segment per send) and configures the event args per send; in the 10,000-client
/// max-rate profile (bench/results/2026-12-05-170321-perf-emithub.txt) the handle table alone was ~8 % of the
/// server's samples. A <c>fixed</c> local costs nothing unless a GC runs during the call.
/// </para>
/// </summary>
internal static partial class DirectSend
{
    /// <summary>Most segments per <c>sendmsg</c>: 64 (Linux allows 1,024; the rest goes in the next call).</summary>
    private const int MaxGather = 64;

    private const int MsgDontWait = 0x40;
    private const int MsgNoSignal = 0x4000;
    private const int EINTR = 4;
    private const int EBADF = 9;
    private const int EAGAIN = 11;
    private const int ENOMEM = 12;
    private const int EPIPE = 32;
    private const int ENETDOWN = 100;
    private const int ENETUNREACH = 101;
    private const int ECONNABORTED = 103;
    private const int ECONNRESET = 104;
    private const int ENOBUFS = 105;
    private const int ENOTCONN = 107;
    private const int ETIMEDOUT = 110;
    private const int EHOSTUNREACH = 113;

    [ThreadStatic]
    private static ArraySegment<byte>[]? t_gather;

    /// <summary>True where this path is used: Linux on a 64-bit process (the <c>msghdr</c> layout below).</summary>
    public static bool IsSupported { get; } = OperatingSystem.IsLinux() && Environment.Is64BitProcess;

    /// <summary>
    /// Sends all of <paramref name="buffers"/> (one send at a time per socket): the direct attempt first, then, after
    /// EAGAIN (or on every send where <see cref="IsSupported"/> is false), the rest through a
    /// <see cref="SocketOperation"/> rented from <see cref="SocketSenderPool"/>. Synchronous and allocation-free when
    /// the kernel takes everything at once. The result carries the bytes handed to the kernel and the error, if any.
    /// <paramref name="buffers"/> is not referenced once this call returns, even while the send is still pending.
    /// </summary>
    public static async ValueTask<SocketOperationResult> SendAsync(Socket socket, IList<ArraySegment<byte>> buffers)
    {
        long total = 0;
        for (var i = 0; i < buffers.Count; i++)
        {
            total += buffers[i].Count;
        }
        long sent = 0;
        if (IsSupported)
        {
            var error = TrySend(socket, buffers, total, out sent);
            if (error != SocketError.WouldBlock)
            {
                return Result(sent, error);
            }
        }
        // The socket buffer is full: the runtime's send takes the rest and waits for room (EPOLLOUT). The rest is
        // copied before the first await, so the caller's list is free as soon as this call returns (callers fill a
        // per-thread list).
        var rest = ArrayPool<ArraySegment<byte>>.Shared.Rent(Math.Max(1, buffers.Count));
        var remaining = new ArraySegment<ArraySegment<byte>>(rest, 0, Collect(buffers, sent, rest));
        var operation = SocketSenderPool.Rent();
        try
        {
            var result = await operation.SendAsync(socket, remaining).ConfigureAwait(false);
            return Result(sent + result.BytesTransferred, result.Error);
        }
        finally
        {
            SocketSenderPool.Return(operation);
            // A pooled array must not keep this send's frames alive.
            Array.Clear(rest);
            ArrayPool<ArraySegment<byte>>.Shared.Return(rest);
        }
    }

    /// <summary>As <see cref="SendAsync(Socket, IList{ArraySegment{byte}})"/> for a pipe's array-backed
    /// <paramref name="buffers"/>.</summary>
    public static async ValueTask<SocketOperationResult> SendAsync(Socket socket, ReadOnlySequence<byte> buffers)
    {
        long sent = 0;
        if (IsSupported)
        {
            var error = TrySend(socket, buffers, out sent);
            if (error != SocketError.WouldBlock)
            {
                return Result(sent, error);
            }
        }
        var operation = SocketSenderPool.Rent();
        try
        {
            var result = await operation.SendAsync(socket, buffers.Slice(sent)).ConfigureAwait(false);
            return Result(sent + result.BytesTransferred, result.Error);
        }
        finally
        {
            SocketSenderPool.Return(operation);
        }
    }

    private static SocketOperationResult Result(long sent, SocketError error) => new((int)Math.Min(sent, int.MaxValue), error);

    /// <summary>
    /// Sends <paramref name="buffers"/> until all <paramref name="total"/> bytes are in the kernel
    /// (<see cref="SocketError.Success"/>), the socket buffer is full (<see cref="SocketError.WouldBlock"/>), or an
    /// error occurs (a closed socket is <see cref="SocketError.OperationAborted"/>). <paramref name="sent"/> is the
    /// bytes handed to the kernel in every case.
    /// </summary>
    public static SocketError TrySend(Socket socket, IList<ArraySegment<byte>> buffers, long total, out long sent) =>
        TrySend(socket, buffers, default, total, out sent);

    /// <summary>As <see cref="TrySend(Socket, IList{ArraySegment{byte}}, long, out long)"/> for a pipe's array-backed
    /// <paramref name="buffers"/>.</summary>
    public static SocketError TrySend(Socket socket, in ReadOnlySequence<byte> buffers, out long sent) =>
        TrySend(socket, null, buffers, buffers.Length, out sent);

    private static unsafe SocketError TrySend(Socket socket, IList<ArraySegment<byte>>? list, in ReadOnlySequence<byte> sequence, long total, out long sent)
    {
        sent = 0;
        SafeSocketHandle handle;
        try
        {
            handle = socket.SafeHandle;
        }
        catch (ObjectDisposedException)
        {
            return SocketError.OperationAborted;
        }
        var gather = t_gather ??= new ArraySegment<byte>[MaxGather];
        var vectors = stackalloc IoVector[MaxGather];
        while (sent < total)
        {
            var count = list is not null ? Collect(list, sent, gather) : Collect(sequence, sent, gather);
            nint written;
            try
            {
                written = SendPinned(handle, gather, count, vectors, 0);
            }
            catch (ObjectDisposedException)
            {
                return SocketError.OperationAborted;
            }
            finally
            {
                // The thread's gather array must not keep another connection's frames alive.
                Array.Clear(gather, 0, count);
            }
            if (written < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR)
                {
                    continue;
                }
                return ToSocketError(errno);
            }
            sent += written;
        }
        return SocketError.Success;
    }

    private static int Collect(IList<ArraySegment<byte>> list, long skip, ArraySegment<byte>[] gather)
    {
        var count = 0;
        for (var i = 0; i < list.Count && count < gather.Length; i++)
        {
            var segment = list[i];
            if (skip >= segment.Count)
            {
                skip -= segment.Count;
                continue;
            }
            gather[count++] = skip == 0 ? segment : segment.Slice((int)skip);
            skip = 0;
        }
        return count;
    }

    private static int Collect(in ReadOnlySequence<byte> sequence, long skip, ArraySegment<byte>[] gather)
    {
        var count = 0;
        foreach (var memory in sequence.Slice(skip))
        {
            if (count == gather.Length)
            {
                break;
            }
            if (!MemoryMarshal.TryGetArray(memory, out var segment))
            {
                throw new InvalidOperationException("Pipe memory is not array-backed.");
            }
            gather[count++] = segment;
        }
        return count;
    }

    /// <summary>Pins <paramref name="gather"/>[<paramref name="index"/>..] one <c>fixed</c> local per recursion
    /// level and makes the <c>sendmsg</c> at the bottom.</summary>
    private static unsafe nint SendPinned(SafeSocketHandle handle, ArraySegment<byte>[] gather, int count, IoVector* vectors, int index)
    {
        if (index == count)
        {
            var header = new MessageHeader { IoVectors = vectors, IoVectorCount = (nuint)count };
            return SendMessage(handle, &header, MsgNoSignal | MsgDontWait);
        }
        var segment = gather[index];
        fixed (byte* data = segment.Array)
        {
            vectors[index].Base = data + segment.Offset;
            vectors[index].Length = (nuint)segment.Count;
            return SendPinned(handle, gather, count, vectors, index + 1);
        }
    }

    /// <summary>The <see cref="SocketError"/> for a failed <c>sendmsg</c>'s errno, as the runtime's socket layer maps
    /// it (EAGAIN is <see cref="SocketError.WouldBlock"/>, EPIPE <see cref="SocketError.Shutdown"/>).</summary>
    internal static SocketError ToSocketError(int errno) => errno switch
    {
        EAGAIN => SocketError.WouldBlock,
        ECONNRESET => SocketError.ConnectionReset,
        EPIPE => SocketError.Shutdown,
        ECONNABORTED => SocketError.ConnectionAborted,
        ENOTCONN => SocketError.NotConnected,
        ETIMEDOUT => SocketError.TimedOut,
        EBADF => SocketError.OperationAborted,
        EHOSTUNREACH => SocketError.HostUnreachable,
        ENETDOWN or ENETUNREACH => SocketError.NetworkUnreachable,
        ENOBUFS or ENOMEM => SocketError.NoBufferSpaceAvailable,
        _ => SocketError.SocketError,
    };

    /// <summary>One <c>struct iovec</c> (sendmsg's gather list entry).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    /// <summary><c>struct msghdr</c> on 64-bit Linux (natural alignment gives the kernel's layout).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* IoVectors;
        public nuint IoVectorCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary><c>sendmsg(2)</c>. The marshaller holds a reference on <paramref name="socket"/> across the call, so a
    /// concurrent dispose cannot close (and the kernel cannot reuse) the descriptor mid-call.</summary>
    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    private static unsafe partial nint SendMessage(SafeSocketHandle socket, MessageHeader* message, int flags);
}
