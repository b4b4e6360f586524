using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static EmitHub.Net.Transport.LinuxSocketInterop;

namespace EmitHub.Net.Transport;

/// <summary>
/// The process's epoll instance and the thread that waits on it (issue 10): every plain TCP connection is registered
/// once, edge-triggered for input and output (<c>EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET</c>), and its
/// <see cref="EpollSocket"/> is told of each readiness edge. The thread only records edges and completes waiters; the
/// waiters' continuations run on the thread pool, so a slow continuation never delays another socket's wake-up.
/// <para>
/// Sockets are found by a 64-bit token in <c>epoll_event.data</c>: a slot in a grow-only array (low 32 bits) and a
/// registration number (high 32 bits), so an edge still queued for a closed connection never reaches the
/// connection that reuses its slot. No GCHandle per connection; an idle connection costs the kernel's epoll item and
/// one array slot here.
/// </para>
/// <para>
/// One loop serves the process: its work per edge is a few instructions, and the runtime's own socket engine also
/// runs one epoll thread on machines of this size. The loop is created on first use and lives as long as the process.
/// </para>
/// </summary>
internal sealed unsafe class EpollEventLoop
{
    /// <summary>Edges taken per <c>epoll_wait</c>: 512 (12 or 16 bytes each, native memory).</summary>
    private const int MaxEvents = 512;

    private const uint ReadableEdges = EpollIn | EpollRdHup | EpollHup | EpollErr;
    private const uint WritableEdges = EpollOut | EpollHup | EpollErr;

    private static readonly Lazy<EpollEventLoop> s_shared = new(() => new EpollEventLoop(), LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly int _epoll;
    private readonly Lock _gate = new();
    private EpollSocket?[] _slots = new EpollSocket?[1024];
    private int[] _free = new int[1024];
    private int _freeCount;
    private int _nextSlot;
    private uint _registrations;

    private EpollEventLoop()
    {
        _epoll = EpollCreate(EpollCloexec);
        if (_epoll < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new SocketException((int)ToSocketError(errno),
                $"epoll_create1 failed (errno {errno}); EmitHub's transport needs Linux epoll.");
        }
        var thread = new Thread(Run) { IsBackground = true, Name = "EmitHub epoll" };
        thread.UnsafeStart();
    }

    /// <summary>The process's loop, started at the first call.</summary>
    /// <exception cref="SocketException">epoll is not available (not Linux, or forbidden by a seccomp policy).</exception>
    public static EpollEventLoop Shared => s_shared.Value;

    /// <summary>Sockets registered and not yet unregistered (for tests and diagnostics).</summary>
    public int RegisteredCount
    {
        get
        {
            lock (_gate)
            {
                return _nextSlot - _freeCount;
            }
        }
    }

    /// <summary>
    /// Registers <paramref name="socket"/>'s descriptor <paramref name="descriptor"/> (edge-triggered, input and
    /// output) and returns its token. The kernel drops the registration itself when the descriptor is closed;
    /// <see cref="Unregister"/> frees the slot.
    /// </summary>
    /// <exception cref="SocketException">epoll_ctl refused the descriptor (ENOMEM, or the per-user epoll watch limit).</exception>
    public long Register(EpollSocket socket, int descriptor)
    {
        int slot;
        long token;
        lock (_gate)
        {
            if (_freeCount > 0)
            {
                slot = _free[--_freeCount];
            }
            else
            {
                slot = _nextSlot++;
                if (slot == _slots.Length)
                {
                    var grown = new EpollSocket?[_slots.Length * 2];
                    _slots.CopyTo(grown, 0);
                    // Published before any socket in the new range is registered with the kernel (below), so the
                    // loop's re-read after a miss finds it.
                    Volatile.Write(ref _slots, grown);
                    Array.Resize(ref _free, grown.Length);
                }
            }
            token = (long)((ulong)++_registrations << 32 | (uint)slot);
            socket.Token = token;
            _slots[slot] = socket;
        }
        var epollEvent = stackalloc byte[16];
        *(uint*)epollEvent = EpollIn | EpollOut | EpollRdHup | EpollEt;
        Unsafe.WriteUnaligned(epollEvent + EpollDataOffset, token);
        if (EpollControl(_epoll, EpollCtlAdd, descriptor, epollEvent) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            Unregister(socket);
            throw new SocketException((int)ToSocketError(errno), $"epoll_ctl(EPOLL_CTL_ADD) failed (errno {errno}).");
        }
        return token;
    }

    /// <summary>Frees <paramref name="socket"/>'s slot (its descriptor is closed or about to be). Edges still queued
    /// for it are dropped by the token check. Idempotent.</summary>
    public void Unregister(EpollSocket socket)
    {
        var slot = (int)(uint)socket.Token;
        lock (_gate)
        {
            if (slot < _slots.Length && ReferenceEquals(_slots[slot], socket))
            {
                _slots[slot] = null;
                _free[_freeCount++] = slot;
            }
        }
    }

    private void Run()
    {
        var size = EpollEventSize;
        var events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * size));
        while (true)
        {
            var count = EpollWait(_epoll, events, MaxEvents, -1);
            if (count < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (Interrupted(errno))
                {
                    continue;
                }
                // EBADF/EFAULT/EINVAL cannot happen with our own descriptor and buffer; without the loop no socket
                // would ever wake again, so fail loudly rather than hang every connection.
                Environment.FailFast($"epoll_wait failed (errno {errno}).");
            }
            var slots = Volatile.Read(ref _slots);
            for (var i = 0; i < count; i++)
            {
                var entry = events + i * size;
                var edges = *(uint*)entry;
                var token = Unsafe.ReadUnaligned<long>(entry + EpollDataOffset);
                var slot = (int)(uint)token;
                var socket = slot < slots.Length ? slots[slot] : null;
                if (socket is null || socket.Token != token)
                {
                    // Registered after this batch's array was read (the array grew, or the slot was reused): look again.
                    slots = Volatile.Read(ref _slots);
                    socket = slot < slots.Length ? slots[slot] : null;
                    if (socket is null || socket.Token != token)
                    {
                        continue; // an edge for a connection already unregistered
                    }
                }
                if ((edges & ReadableEdges) != 0)
                {
                    socket.OnReadable();
                }
                if ((edges & WritableEdges) != 0)
                {
                    socket.OnWritable();
                }
            }
        }
    }
}
