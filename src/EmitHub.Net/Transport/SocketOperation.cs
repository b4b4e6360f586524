using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace EmitHub.Net.Transport;

/// <summary>Outcome of one socket receive or send: bytes moved and the socket error, as a value (never thrown).</summary>
/// <param name="BytesTransferred">Bytes received or sent.</param>
/// <param name="Error"><see cref="SocketError.Success"/> or the failure.</param>
internal readonly record struct SocketOperationResult(int BytesTransferred, SocketError Error)
{
    /// <summary>What <see cref="SocketOperation.WaitReadableAsync"/> returns when <see cref="SocketOperation.InterruptWait"/>
    /// ended it: not a socket error (a receive on Linux never reports EINTR; the runtime retries it).</summary>
    public static SocketOperationResult Interrupted => new(0, SocketError.Interrupted);

    public bool Succeeded => Error == SocketError.Success;

    /// <summary>True when the wait was ended by <see cref="SocketOperation.InterruptWait"/>, not by the socket.</summary>
    public bool IsInterrupted => Error == SocketError.Interrupted;
}

/// <summary>
/// A reusable <see cref="SocketAsyncEventArgs"/> awaited as a <see cref="ValueTask{T}"/>: no allocation per
/// operation and failures come back as <see cref="SocketError"/> values instead of exceptions (a peer reset is
/// routine, not exceptional). Each connection owns one for its receives; sends rent one from
/// <see cref="SocketSenderPool"/> for the duration of a send.
/// <para>
/// A receive operation also offers an interruptible readiness wait (<see cref="WaitReadableAsync"/>, a zero-byte
/// receive): <see cref="InterruptWait"/> (any thread) ends the pending wait at once with
/// <see cref="SocketOperationResult.Interrupted"/>, and every later wait too until <see cref="ClearInterrupt"/>.
/// The zero-byte receive itself cannot be cancelled without closing the socket, so it stays in flight, detached; the
/// next owner's <see cref="WaitReadableAsync"/> re-attaches to it (or takes its result if it completed meanwhile).
/// This is how the transport's receive loop hands the socket to an upgraded WebSocket without waiting for the peer
/// to send something, and how the WebSocket's read loop is stopped (the equivalent of <c>CancelPendingRead</c>).
/// </para>
/// </summary>
internal sealed class SocketOperation : SocketAsyncEventArgs, IValueTaskSource<SocketOperationResult>
{
    // Readiness-wait states. NoWait: no zero-byte receive in flight (or a data receive/send is). Awaited: one in
    // flight and its result goes to _core's awaiter. Detached: one in flight, interrupted, nobody awaits it.
    // DetachedCompleted: it completed while detached; _detachedResult holds the outcome for the next wait.
    private const int NoWait = 0;
    private const int Awaited = 1;
    private const int Detached = 2;
    private const int DetachedCompleted = 3;

    private ManualResetValueTaskSourceCore<SocketOperationResult> _core;
    private List<ArraySegment<byte>>? _bufferList;
    private int _waitState;
    private int _interrupted;
    private SocketOperationResult _detachedResult;

    public SocketOperation() : base(unsafeSuppressExecutionContextFlow: true)
    {
        _core.RunContinuationsAsynchronously = true;
    }

    protected override void OnCompleted(SocketAsyncEventArgs e)
    {
        var result = new SocketOperationResult(BytesTransferred, SocketError);
        if (Volatile.Read(ref _waitState) == NoWait)
        {
            _core.SetResult(result);
            return;
        }
        if (TryDeliverWaitResult(result))
        {
            _core.SetResult(result);
        }
    }

    /// <summary>A readiness wait finished with <paramref name="result"/>: true when its awaiter is to get it
    /// (state Awaited -> NoWait), false when it was detached (the result is kept for the next wait).</summary>
    private bool TryDeliverWaitResult(SocketOperationResult result)
    {
        while (true)
        {
            if (Interlocked.CompareExchange(ref _waitState, NoWait, Awaited) == Awaited)
            {
                return true;
            }
            // Detached. Publish the result before the state (the CAS is a full fence), so a re-attaching waiter that
            // sees DetachedCompleted reads it; if that waiter re-attached first (Detached -> Awaited), loop and deliver.
            _detachedResult = result;
            if (Interlocked.CompareExchange(ref _waitState, DetachedCompleted, Detached) == Detached)
            {
                return false;
            }
        }
    }

    /// <summary>
    /// Waits until the socket is readable (data, the peer's FIN or an error) without holding a buffer: a zero-byte
    /// receive. Returns <see cref="SocketOperationResult.Interrupted"/> when <see cref="InterruptWait"/> was called
    /// (before or during the wait). One owner at a time; after an interrupted wait the next owner may call it only
    /// once the previous owner has observed that result.
    /// </summary>
    public ValueTask<SocketOperationResult> WaitReadableAsync(Socket socket)
    {
        if (Volatile.Read(ref _interrupted) != 0)
        {
            return ValueTask.FromResult(SocketOperationResult.Interrupted);
        }
        switch (Volatile.Read(ref _waitState))
        {
            case DetachedCompleted:
                // The detached wait completed while nobody listened: its outcome is this wait's.
                Volatile.Write(ref _waitState, NoWait);
                return ValueTask.FromResult(_detachedResult);
            case Detached:
                // Re-attach to the zero-byte receive still in flight.
                _core.Reset();
                if (Interlocked.CompareExchange(ref _waitState, Awaited, Detached) == Detached)
                {
                    return AwaitedOrInterrupted();
                }
                Volatile.Write(ref _waitState, NoWait);
                return ValueTask.FromResult(_detachedResult);
        }
        _core.Reset();
        Interlocked.Exchange(ref _waitState, Awaited); // full fence: pairs with InterruptWait's flag write and CAS
        if (Volatile.Read(ref _interrupted) != 0 &&
            Interlocked.CompareExchange(ref _waitState, NoWait, Awaited) == Awaited)
        {
            return ValueTask.FromResult(SocketOperationResult.Interrupted);
        }
        if (Volatile.Read(ref _waitState) != Awaited)
        {
            // InterruptWait detached this wait before its receive was issued and already completed _core with
            // Interrupted: nothing is in flight, so the next owner starts a fresh wait.
            Volatile.Write(ref _waitState, NoWait);
            return new ValueTask<SocketOperationResult>(this, _core.Version);
        }
        SetBuffer(Memory<byte>.Empty);
        bool pending;
        try
        {
            pending = socket.ReceiveAsync(this);
        }
        catch (ObjectDisposedException)
        {
            pending = false;
            SocketError = SocketError.OperationAborted;
        }
        if (pending)
        {
            return new ValueTask<SocketOperationResult>(this, _core.Version);
        }
        var result = new SocketOperationResult(0, SocketError);
        if (TryDeliverWaitResult(result))
        {
            return ValueTask.FromResult(result);
        }
        // Interrupted while the receive was being issued: _core carries Interrupted.
        return new ValueTask<SocketOperationResult>(this, _core.Version);
    }

    private ValueTask<SocketOperationResult> AwaitedOrInterrupted()
    {
        // Re-attached: an interrupt raised meanwhile must still end this wait.
        if (Volatile.Read(ref _interrupted) != 0 &&
            Interlocked.CompareExchange(ref _waitState, Detached, Awaited) == Awaited)
        {
            return ValueTask.FromResult(SocketOperationResult.Interrupted);
        }
        return new ValueTask<SocketOperationResult>(this, _core.Version);
    }

    /// <summary>
    /// Ends the pending <see cref="WaitReadableAsync"/> now (its awaiter gets
    /// <see cref="SocketOperationResult.Interrupted"/>) and makes every later one return that at once, until
    /// <see cref="ClearInterrupt"/>. A data receive in progress is not affected; the owner's next wait is. Any thread.
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

    public ValueTask<SocketOperationResult> ReceiveAsync(Socket socket, Memory<byte> buffer)
    {
        _core.Reset();
        SetBuffer(buffer);
        try
        {
            if (socket.ReceiveAsync(this))
            {
                return new ValueTask<SocketOperationResult>(this, _core.Version);
            }
        }
        catch (ObjectDisposedException)
        {
            return ValueTask.FromResult(new SocketOperationResult(0, SocketError.OperationAborted));
        }
        return ValueTask.FromResult(new SocketOperationResult(BytesTransferred, SocketError));
    }

    public ValueTask<SocketOperationResult> SendAsync(Socket socket, in ReadOnlySequence<byte> buffers)
    {
        if (buffers.IsSingleSegment)
        {
            _core.Reset();
            if (BufferList != null)
            {
                BufferList = null;
            }
            SetBuffer(MemoryMarshal.AsMemory(buffers.First));
            return StartSend(socket);
        }
        // Gathered send: one system call for every queued segment.
        _bufferList ??= new List<ArraySegment<byte>>();
        _bufferList.Clear();
        foreach (var segment in buffers)
        {
            if (!MemoryMarshal.TryGetArray(segment, out var array))
            {
                throw new InvalidOperationException("Pipe memory is not array-backed.");
            }
            _bufferList.Add(array);
        }
        return SendAsync(socket, _bufferList);
    }

    /// <summary>Gathered send of caller-owned array segments (the WebSocket send path's shared frames).</summary>
    public ValueTask<SocketOperationResult> SendAsync(Socket socket, IList<ArraySegment<byte>> buffers)
    {
        _core.Reset();
        if (buffers.Count == 1)
        {
            if (BufferList != null)
            {
                BufferList = null;
            }
            SetBuffer(buffers[0].Array, buffers[0].Offset, buffers[0].Count);
        }
        else
        {
            SetBuffer(null, 0, 0);
            BufferList = buffers;
        }
        return StartSend(socket);
    }

    private ValueTask<SocketOperationResult> StartSend(Socket socket)
    {
        try
        {
            if (socket.SendAsync(this))
            {
                return new ValueTask<SocketOperationResult>(this, _core.Version);
            }
        }
        catch (ObjectDisposedException)
        {
            return ValueTask.FromResult(new SocketOperationResult(0, SocketError.OperationAborted));
        }
        return ValueTask.FromResult(new SocketOperationResult(BytesTransferred, SocketError));
    }

    /// <summary>Drops every reference to the last operation's buffers (before the operation goes back to
    /// <see cref="SocketSenderPool"/>).</summary>
    public void ForgetBuffers()
    {
        if (BufferList != null)
        {
            BufferList = null;
        }
        SetBuffer(null, 0, 0);
        _bufferList?.Clear();
    }

    public SocketOperationResult GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
