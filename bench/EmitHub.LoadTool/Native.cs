using System.Runtime.InteropServices;

namespace EmitHub.LoadTool;

/// <summary>struct epoll_event as the x86-64 kernel ABI lays it out (packed: 4-byte events + 8-byte data).</summary>
[StructLayout(LayoutKind.Explicit, Size = 12)]
internal struct EpollEvent
{
    [FieldOffset(0)] public uint Events;
    [FieldOffset(4)] public ulong Data;
}

/// <summary>The few libc calls the client needs; errno comes from Marshal.GetLastPInvokeError.</summary>
internal static unsafe partial class Native
{
    public const int AF_INET = 2;
    public const int SOCK_STREAM = 1;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int IPPROTO_IP = 0;
    public const int IPPROTO_TCP = 6;
    public const int SOL_SOCKET = 1;
    public const int SO_ERROR = 4;
    public const int SO_RCVBUF = 8;
    public const int TCP_NODELAY = 1;
    // Defers the local port choice to connect(), so the 4-tuple (not the source address alone)
    // must be unique and each 127.0.0.x source gets the whole ephemeral range per destination.
    public const int IP_BIND_ADDRESS_NO_PORT = 24;
    public const int EAGAIN = 11;
    public const int EINTR = 4;
    public const int EINPROGRESS = 115;
    public const uint EPOLLIN = 0x1;
    public const uint EPOLLOUT = 0x4;
    public const uint EPOLLERR = 0x8;
    public const uint EPOLLHUP = 0x10;
    public const uint EPOLLRDHUP = 0x2000;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const int EPOLL_CTL_MOD = 3;
    public const int MSG_NOSIGNAL = 0x4000;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int bind(int fd, byte* addr, int len);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int connect(int fd, byte* addr, int len);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int name, int* value, int len);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int name, int* value, int* len);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint recv(int fd, byte* buf, nint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint send(int fd, byte* buf, nint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_wait(int epfd, EpollEvent* events, int maxEvents, int timeoutMs);

    /// <summary>Writes a sockaddr_in (16 bytes) for an IPv4 address in network order.</summary>
    public static void WriteSockaddr(Span<byte> dst, ReadOnlySpan<byte> ipv4, int port)
    {
        dst.Clear();
        dst[0] = AF_INET; // sin_family, little-endian ushort
        dst[2] = (byte)(port >> 8);
        dst[3] = (byte)port;
        ipv4.CopyTo(dst.Slice(4, 4));
    }
}
