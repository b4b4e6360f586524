using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EmitHub.Net.Transport;

/// <summary>
/// The process's epoll instance for receive readiness (issue 10) and the thread that waits on it. A plain TCP
/// connection's <see cref="SocketReceiver"/> arms its descriptor one-shot (<c>EPOLLIN | EPOLLRDHUP | EPOLLONESHOT</c>,
/// level-triggered, so data that arrived before the arming is reported at once) each time it waits, and is told when
/// the wait ended. The thread only finds the receiver and completes its wait; continuations run on the thread pool.
/// <para>
/// Why not the runtime's zero-byte receive: that parks a <see cref="SocketAsyncEventArgs"/>, the runtime's pending
/// receive operation and its socket context on every idle connection (about 650 bytes of managed objects); here an
/// idle connection costs one slot in <see cref="_slots"/> and the kernel's epoll item. Receives themselves are plain
/// non-blocking <c>recv(2)</c> calls on the caller's thread (<see cref="SocketReceiver.Receive"/>).
/// </para>
/// <para>
/// Receivers are found by a 64-bit token in <c>epoll_event.data</c>: a slot in a grow-only array (low 32 bits) and a
/// registration number (high 32 bits), so an event still queued for a closed connection never reaches the connection
/// that reuses its slot. One loop serves the process: its work per event is a few instructions (the runtime's own
/// socket engine runs one epoll thread on machines of this size too). Created on first use; lives with the process.
/// </para>
/// </summary>
internal sealed unsafe partial class EpollReadinessLoop
{
    /// <summary>Events taken per <c>epoll_wait</c>: 256 (12 bytes each on x86-64, native memory).</summary>
    private const int MaxEvents = 256;

    private const int EpollCloexec = 0x80000;
    private const int EpollCtlAdd = 1;
    private const int EpollCtlMod = 3;
    private const uint EpollIn = 0x001;
    private const uint EpollRdHup = 0x2000;
    private const uint EpollOneShot = 1u << 30;
    private const int EINTR = 4;

    /// <summary>Bytes of one <c>struct epoll_event</c>: 12 on x86-64, where the kernel declares it packed; 16 elsewhere.</summary>
    private static readonly int s_eventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    /// <summary>Offset of <c>epoll_event.data</c>: 4 on x86-64 (packed), 8 elsewhere.</summary>
    private static readonly int s_dataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    private static readonly Lazy<EpollReadinessLoop?> s_shared = new(Create, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly int _epoll;
    private readonly Lock _gate = new();
    private SocketReceiver?[] _slots = new SocketReceiver?[1024];
    private int[] _free = new int[1024];
    private int _freeCount;
    private int _nextSlot;
    private uint _registrations;

    private EpollReadinessLoop(int epoll)
    {
        _epoll = epoll;
        var thread = new Thread(Run) { IsBackground = true, Name = "EmitHub epoll" };
        thread.UnsafeStart();
    }

    /// <summary>The process's loop, started at the first call; null where epoll is not available (not 64-bit Linux,
    /// or <c>epoll_create1</c> refused), in which case receivers fall back to the runtime's zero-byte receive.</summary>
    public static EpollReadinessLoop? Shared => s_shared.Value;

    private static EpollReadinessLoop? Create()
    {
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess)
        {
            return null;
        }
        var epoll = EpollCreate(EpollCloexec);
        return epoll < 0 ? null : new EpollReadinessLoop(epoll);
    }

    /// <summary>True while <paramref name="receiver"/> holds a slot (for tests and diagnostics).</summary>
    public bool Holds(SocketReceiver receiver)
    {
        var slot = (int)(uint)receiver.Token;
        lock (_gate)
        {
            return receiver.Token != 0 && slot < _slots.Length && ReferenceEquals(_slots[slot], receiver);
        }
    }

    /// <summary>Gives <paramref name="receiver"/> a slot and returns its token (never 0).</summary>
    public long Register(SocketReceiver receiver)
    {
        lock (_gate)
        {
            int slot;
            if (_freeCount > 0)
            {
                slot = _free[--_freeCount];
            }
            else
            {
                slot = _nextSlot++;
                if (slot == _slots.Length)
                {
                    var grown = new SocketReceiver?[_slots.Length * 2];
                    _slots.CopyTo(grown, 0);
                    // Published before any receiver in the new range arms its descriptor, so the loop finds it.
                    Volatile.Write(ref _slots, grown);
                    Array.Resize(ref _free, grown.Length);
                }
            }
            if (++_registrations == 0)
            {
                _registrations = 1;
            }
            var token = (long)((ulong)_registrations << 32 | (uint)slot);
            _slots[slot] = receiver;
            return token;
        }
    }

    /// <summary>Frees the slot of <paramref name="token"/> (its descriptor is closed). Events still queued for it are
    /// dropped by the token check. Idempotent.</summary>
    public void Unregister(SocketReceiver receiver, long token)
    {
        var slot = (int)(uint)token;
        lock (_gate)
        {
            if (slot < _slots.Length && ReferenceEquals(_slots[slot], receiver))
            {
                _slots[slot] = null;
                _free[_freeCount++] = slot;
            }
        }
    }

    /// <summary>
    /// Arms <paramref name="socket"/> for one readiness event carrying <paramref name="token"/>: <c>EPOLL_CTL_ADD</c>
    /// the first time (<paramref name="add"/>), <c>EPOLL_CTL_MOD</c> after. Returns <see cref="SocketError.Success"/>
    /// or the failure (a disposed socket is <see cref="SocketError.OperationAborted"/>). The marshaller holds a
    /// reference on the handle across the call, so the descriptor cannot be closed and reused mid-call.
    /// </summary>
    public SocketError Arm(SafeSocketHandle socket, long token, bool add)
    {
        var epollEvent = stackalloc byte[16];
        *(uint*)epollEvent = EpollIn | EpollRdHup | EpollOneShot;
        Unsafe.WriteUnaligned(epollEvent + s_dataOffset, token);
        try
        {
            if (EpollControl(_epoll, add ? EpollCtlAdd : EpollCtlMod, socket, epollEvent) == 0)
            {
                return SocketError.Success;
            }
        }
        catch (ObjectDisposedException)
        {
            return SocketError.OperationAborted;
        }
        return DirectSend.ToSocketError(Marshal.GetLastPInvokeError());
    }

    private void Run()
    {
        var events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * s_eventSize));
        while (true)
        {
            var count = EpollWait(_epoll, events, MaxEvents, -1);
            if (count < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR)
                {
                    continue;
                }
                // EBADF/EFAULT/EINVAL cannot happen with our own descriptor and buffer; without the loop no connection
                // would ever read again, so fail loudly rather than hang every connection.
                Environment.FailFast($"epoll_wait failed (errno {errno}).");
            }
            var slots = Volatile.Read(ref _slots);
            for (var i = 0; i < count; i++)
            {
                var token = Unsafe.ReadUnaligned<long>(events + i * s_eventSize + s_dataOffset);
                var slot = (int)(uint)token;
                var receiver = slot < slots.Length ? slots[slot] : null;
                if (receiver is null || receiver.Token != token)
                {
                    // Registered after this batch's array was read (the array grew since): look again. Still no match
                    // is an event for a connection closed meanwhile (its slot freed or reused).
                    slots = Volatile.Read(ref _slots);
                    receiver = slot < slots.Length ? slots[slot] : null;
                }
                if (receiver is not null && receiver.Token == token)
                {
                    receiver.OnReadable();
                }
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate(int flags);

    /// <summary><c>epoll_ctl</c> with the event passed as raw bytes (its layout differs between architectures).</summary>
    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollControl(int epoll, int operation, SafeSocketHandle socket, byte* epollEvent);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWait(int epoll, byte* events, int maxEvents, int timeoutMilliseconds);
}
