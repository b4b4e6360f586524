using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace EmitHub.Net.Transport;

/// <summary>
/// The receive side of one plain TCP connection: an interruptible readiness wait (<see cref="WaitReadableAsync"/>)
/// and a non-blocking receive (<see cref="Receive"/>), used by the transport's receive loop and, after a WebSocket
/// upgrade, by the WebSocket itself (ConnectionContext.DirectReceive.cs).
/// <para>
/// On 64-bit Linux the wait arms the descriptor one-shot in <see cref="EpollReadinessLoop"/> and the receive is a
/// <c>recv(2)</c> with <c>MSG_DONTWAIT</c> on the caller's thread: an idle connection holds this object (about 100
/// bytes) and nothing of the runtime's socket engine (issue 10: the runtime's zero-byte receive parked a
/// <see cref="SocketAsyncEventArgs"/>, its pending operation and the socket's async context, ~650 bytes). Elsewhere
/// the same wait is armed with the runtime's zero-byte receive instead (<see cref="ZeroByteWait"/>).
/// </para>
/// <para>
/// <see cref="InterruptWait"/> (any thread) ends the pending wait at once with
/// <see cref="SocketOperationResult.Interrupted"/>, and every later wait too until <see cref="ClearInterrupt"/>. The
/// armed registration stays armed, detached; the next owner's wait re-attaches to it (or takes its result if it fired
/// meanwhile), so no wake-up is lost across a hand-over. <see cref="Close"/>, after the socket was disposed, ends a
/// pending wait with <see cref="SocketError.OperationAborted"/> (closing a descriptor silently drops its epoll
/// registration, so nothing else would) and frees the loop's slot.
/// </para>
/// </summary>
internal sealed partial class SocketReceiver : IValueTaskSource<SocketOperationResult>
{
    // Wait states. Idle: nothing armed (or the armed wait already finished and was consumed). Awaited: armed, its
    // result goes to _core's awaiter. Detached: armed, interrupted, nobody awaits it. DetachedCompleted: it fired while
    // detached; _detachedResult holds the outcome for the next wait.
    private const int Idle = 0;
    private const int Awaited = 1;
    private const int Detached = 2;
    private const int DetachedCompleted = 3;

    private const int MsgDontWait = 0x40;
    private const int EINTR = 4;

    private readonly Socket _socket;
    private readonly EpollReadinessLoop? _loop;
    private readonly ZeroByteWait? _fallback;
    private ManualResetValueTaskSourceCore<SocketOperationResult> _core;
    private SocketOperationResult _detachedResult;
    private long _token;
    private int _waitState;
    private int _interrupted;
    private int _closed;
    private bool _added;

    /// <summary>A receiver for <paramref name="socket"/> (connected, plain TCP).</summary>
    public SocketReceiver(Socket socket)
    {
        _socket = socket;
        _loop = EpollReadinessLoop.Shared;
        if (_loop is null)
        {
            _fallback = new ZeroByteWait(this);
        }
        _core.RunContinuationsAsynchronously = true;
    }

    /// <summary>This receiver's token in <see cref="EpollReadinessLoop"/> (0 until its first wait).</summary>
    public long Token => Volatile.Read(ref _token);

    /// <summary>
    /// Waits until the socket is readable (data, the peer's FIN or an error) without holding a buffer. Returns
    /// <see cref="SocketOperationResult.Interrupted"/> when <see cref="InterruptWait"/> was called (before or during the
    /// wait) and <see cref="SocketError.OperationAborted"/> after <see cref="Close"/>. One owner at a time; after an
    /// interrupted wait the next owner may call it only once the previous owner has observed that result.
    /// </summary>
    public ValueTask<SocketOperationResult> WaitReadableAsync()
    {
        if (Volatile.Read(ref _closed) != 0)
        {
            return ValueTask.FromResult(new SocketOperationResult(0, SocketError.OperationAborted));
        }
        if (Volatile.Read(ref _interrupted) != 0)
        {
            return ValueTask.FromResult(SocketOperationResult.Interrupted);
        }
        switch (Volatile.Read(ref _waitState))
        {
            case DetachedCompleted:
                // The detached wait fired while nobody listened: its outcome is this wait's.
                Volatile.Write(ref _waitState, Idle);
                return ValueTask.FromResult(_detachedResult);
            case Detached:
                // Re-attach to the registration still armed.
                _core.Reset();
                if (Interlocked.CompareExchange(ref _waitState, Awaited, Detached) != Detached)
                {
                    Volatile.Write(ref _waitState, Idle);
                    return ValueTask.FromResult(_detachedResult);
                }
                // An interrupt raised meanwhile must still end this wait.
                if (Volatile.Read(ref _interrupted) != 0 &&
                    Interlocked.CompareExchange(ref _waitState, Detached, Awaited) == Awaited)
                {
                    return ValueTask.FromResult(SocketOperationResult.Interrupted);
                }
                return new ValueTask<SocketOperationResult>(this, _core.Version);
        }
        _core.Reset();
        Interlocked.Exchange(ref _waitState, Awaited); // full fence: pairs with InterruptWait's flag write and CAS
        if (Volatile.Read(ref _interrupted) != 0 &&
            Interlocked.CompareExchange(ref _waitState, Idle, Awaited) == Awaited)
        {
            return ValueTask.FromResult(SocketOperationResult.Interrupted);
        }
        if (Volatile.Read(ref _waitState) != Awaited)
        {
            // InterruptWait or Close finished this wait before anything was armed and completed _core: the next owner
            // starts a fresh wait.
            Volatile.Write(ref _waitState, Idle);
            return new ValueTask<SocketOperationResult>(this, _core.Version);
        }
        var error = _fallback is null ? Arm() : _fallback.Start(_socket);
        if (error != SocketError.IOPending)
        {
            OnWaitFinished(new SocketOperationResult(0, error));
        }
        return new ValueTask<SocketOperationResult>(this, _core.Version);
    }

    /// <summary>Arms the epoll registration: <see cref="SocketError.IOPending"/> (the loop reports readiness) or the
    /// failure.</summary>
    private SocketError Arm()
    {
        SafeSocketHandle handle;
        try
        {
            handle = _socket.SafeHandle;
        }
        catch (ObjectDisposedException)
        {
            return SocketError.OperationAborted;
        }
        if (_token == 0)
        {
            Interlocked.Exchange(ref _token, _loop!.Register(this)); // full fence: pairs with Close's flag write and token read
            if (Volatile.Read(ref _closed) != 0)
            {
                // Closed while registering: Close saw no token, so the slot is freed here.
                _loop.Unregister(this, _token);
                return SocketError.OperationAborted;
            }
        }
        var error = _loop!.Arm(handle, _token, add: !_added);
        _added = true;
        return error == SocketError.Success ? SocketError.IOPending : error;
    }

    /// <summary>The armed wait fired (the loop's thread) or could not be armed: delivers <paramref name="result"/> to
    /// its awaiter (Awaited -> Idle) or keeps it for the next wait (Detached -> DetachedCompleted). A wait already
    /// finished (by <see cref="Close"/>) ignores it.</summary>
    private void OnWaitFinished(SocketOperationResult result)
    {
        while (true)
        {
            switch (Volatile.Read(ref _waitState))
            {
                case Awaited:
                    if (Interlocked.CompareExchange(ref _waitState, Idle, Awaited) == Awaited)
                    {
                        _core.SetResult(result);
                        return;
                    }
                    break;
                case Detached:
                    // Publish the result before the state (the CAS is a full fence), so a re-attaching waiter that sees
                    // DetachedCompleted reads it; if that waiter re-attached first (Detached -> Awaited), loop and deliver.
                    _detachedResult = result;
                    if (Interlocked.CompareExchange(ref _waitState, DetachedCompleted, Detached) == Detached)
                    {
                        return;
                    }
                    break;
                default:
                    return;
            }
        }
    }

    /// <summary>Called by <see cref="EpollReadinessLoop"/> when the armed descriptor became readable (or hung up, or
    /// failed: the next <see cref="Receive"/> reports which).</summary>
    internal void OnReadable() => OnWaitFinished(default);

    /// <summary>
    /// Ends the pending <see cref="WaitReadableAsync"/> now (its awaiter gets
    /// <see cref="SocketOperationResult.Interrupted"/>) and makes every later one return that at once, until
    /// <see cref="ClearInterrupt"/>. Any thread.
    /// </summary>
    public void InterruptWait()
    {
        Interlocked.Exchange(ref _interrupted, 1);
        if (Interlocked.CompareExchange(ref _waitState, Detached, Awaited) == Awaited)
        {
            _core.SetResult(SocketOperationResult.Interrupted);
        }
    }

    /// <summary>Lets waits wait again after <see cref="InterruptWait"/> (by the next owner, once the previous one has
    /// stopped).</summary>
    public void ClearInterrupt() => Interlocked.Exchange(ref _interrupted, 0);

    /// <summary>
    /// Receives into <paramref name="buffer"/> what the kernel holds, without blocking (after a wait reported the
    /// socket readable). <see cref="SocketOperationResult.BytesTransferred"/> 0 with success is the peer's FIN;
    /// <see cref="SocketError.WouldBlock"/> means nothing was there after all (wait again); a disposed socket is
    /// <see cref="SocketError.OperationAborted"/>.
    /// </summary>
    public unsafe SocketOperationResult Receive(Span<byte> buffer)
    {
        if (_fallback is not null)
        {
            try
            {
                var count = _socket.Receive(buffer, SocketFlags.None, out var socketError);
                return new SocketOperationResult(count, socketError);
            }
            catch (ObjectDisposedException)
            {
                return new SocketOperationResult(0, SocketError.OperationAborted);
            }
        }
        try
        {
            var handle = _socket.SafeHandle;
            fixed (byte* data = buffer)
            {
                while (true)
                {
                    var received = Recv(handle, data, (nuint)buffer.Length, MsgDontWait);
                    if (received >= 0)
                    {
                        return new SocketOperationResult((int)received, SocketError.Success);
                    }
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno != EINTR)
                    {
                        return new SocketOperationResult(0, DirectSend.ToSocketError(errno));
                    }
                }
            }
        }
        catch (ObjectDisposedException)
        {
            return new SocketOperationResult(0, SocketError.OperationAborted);
        }
    }

    /// <summary>After the socket was disposed: ends a pending wait with <see cref="SocketError.OperationAborted"/>,
    /// makes every later wait return that, and frees the loop's slot. Idempotent; any thread.</summary>
    public void Close()
    {
        Interlocked.Exchange(ref _closed, 1);
        var token = Volatile.Read(ref _token);
        if (token != 0)
        {
            _loop!.Unregister(this, token);
        }
        _fallback?.Dispose();
        OnWaitFinished(new SocketOperationResult(0, SocketError.OperationAborted));
    }

    public SocketOperationResult GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    /// <summary>Where epoll is not available: the readiness wait is the runtime's zero-byte receive, whose completion
    /// finishes the wait like an epoll event. It stays in flight across an interrupt, as the armed registration
    /// does.</summary>
    private sealed class ZeroByteWait(SocketReceiver owner) : SocketAsyncEventArgs(unsafeSuppressExecutionContextFlow: true)
    {
        /// <summary>Starts the zero-byte receive: <see cref="SocketError.IOPending"/>, or its outcome when it
        /// completed at once.</summary>
        public SocketError Start(Socket socket)
        {
            SetBuffer(Memory<byte>.Empty);
            try
            {
                return socket.ReceiveAsync(this) ? SocketError.IOPending : SocketError;
            }
            catch (ObjectDisposedException)
            {
                return SocketError.OperationAborted;
            }
        }

        protected override void OnCompleted(SocketAsyncEventArgs e) => owner.OnWaitFinished(new SocketOperationResult(0, SocketError));
    }

    /// <summary><c>recv(2)</c>. The marshaller holds a reference on <paramref name="socket"/> across the call, so a
    /// concurrent dispose cannot close (and the kernel cannot reuse) the descriptor mid-call.</summary>
    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static unsafe partial nint Recv(SafeSocketHandle socket, byte* buffer, nuint length, int flags);
}
