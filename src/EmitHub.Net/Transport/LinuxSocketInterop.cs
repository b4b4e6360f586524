using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace EmitHub.Net.Transport;

/// <summary>
/// The Linux system calls the epoll transport makes (epoll(7), recv(2), sendmsg(2)), declared through
/// <c>LibraryImport</c> so they stay AOT-clean. Socket arguments are the runtime's <see cref="SafeSocketHandle"/>: the
/// marshaller holds a reference across each call, so a concurrent <c>Dispose</c> cannot close (and the kernel
/// cannot reuse) the descriptor mid-call; a closed handle throws <see cref="ObjectDisposedException"/> instead.
/// </summary>
internal static unsafe partial class LinuxSocketInterop
{
    private const string Libc = "libc";

    public const int EpollCloexec = 0x80000;
    public const int EpollCtlAdd = 1;

    public const uint EpollIn = 0x001;
    public const uint EpollOut = 0x004;
    public const uint EpollErr = 0x008;
    public const uint EpollHup = 0x010;
    public const uint EpollRdHup = 0x2000;
    public const uint EpollEt = 1u << 31;

    public const int MsgPeek = 0x02;
    public const int MsgDontWait = 0x40;
    public const int MsgNoSignal = 0x4000;

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

    /// <summary>Bytes of one <c>struct epoll_event</c>: 12 on x86-64, where the kernel declares it packed; 16
    /// elsewhere (the 64-bit data member aligned to 8).</summary>
    public static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    /// <summary>Offset of <c>epoll_event.data</c>: 4 on x86-64 (packed), 8 elsewhere.</summary>
    public static readonly int EpollDataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    /// <summary>One <c>struct iovec</c> (sendmsg's gather list entry).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    /// <summary><c>struct msghdr</c> on 64-bit Linux (natural alignment gives the kernel's layout).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* IoVectors;
        public nuint IoVectorCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [LibraryImport(Libc, EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int EpollCreate(int flags);

    /// <summary><c>epoll_ctl</c> with the event passed as raw bytes (its layout differs between architectures).</summary>
    [LibraryImport(Libc, EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int EpollControl(int epollDescriptor, int operation, int descriptor, byte* epollEvent);

    [LibraryImport(Libc, EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int EpollWait(int epollDescriptor, byte* events, int maxEvents, int timeoutMilliseconds);

    [LibraryImport(Libc, EntryPoint = "recv", SetLastError = true)]
    public static partial nint Receive(SafeSocketHandle socket, byte* buffer, nuint length, int flags);

    [LibraryImport(Libc, EntryPoint = "sendmsg", SetLastError = true)]
    public static partial nint SendMessage(SafeSocketHandle socket, MessageHeader* message, int flags);

    /// <summary>True when the last call failed with EINTR (to be retried).</summary>
    public static bool Interrupted(int errno) => errno == EINTR;

    /// <summary>The <see cref="SocketError"/> for a failed call's errno, as the runtime's own socket layer maps it
    /// (EAGAIN is <see cref="SocketError.WouldBlock"/>, EPIPE <see cref="SocketError.Shutdown"/>, EBADF
    /// <see cref="SocketError.OperationAborted"/>).</summary>
    public static SocketError ToSocketError(int errno) => errno switch
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
        EINTR => SocketError.Interrupted,
        _ => SocketError.SocketError,
    };
}
