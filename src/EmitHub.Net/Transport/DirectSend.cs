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
internal static unsafe partial class DirectSend
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

    private static SocketError TrySend(Socket socket, IList<ArraySegment<byte>>? list, in ReadOnlySequence<byte> sequence, long total, out long sent)
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
        for (var i = 0; i < list.Count && count < MaxGather; i++)
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
            if (count == MaxGather)
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
    private static nint SendPinned(SafeSocketHandle handle, ArraySegment<byte>[] gather, int count, IoVector* vectors, int index)
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
    private static SocketError ToSocketError(int errno) => errno switch
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
    private struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    /// <summary><c>struct msghdr</c> on 64-bit Linux (natural alignment gives the kernel's layout).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
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
    private static partial nint SendMessage(SafeSocketHandle socket, MessageHeader* message, int flags);
}
