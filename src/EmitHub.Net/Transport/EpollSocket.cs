using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using static EmitHub.Net.Transport.LinuxSocketInterop;

namespace EmitHub.Net.Transport;

/// <summary>
/// A plain TCP connection's I/O on the process's <see cref="EpollEventLoop"/> (issue 10), in place of the runtime's
/// <see cref="SocketAsyncEventArgs"/>: receives and gathered sends are non-blocking system calls made on the caller's
/// thread, and only when the kernel says EAGAIN does the caller wait for the loop's next readiness edge. A send that
/// fits the socket buffer — nearly every fan-out send — completes synchronously with one <c>sendmsg</c>, its frames
/// pinned for the call as locals (no GCHandle per segment) and no operation object involved.
/// <para>
/// Waits are awaited as <see cref="ValueTask{T}"/> over a reusable source (one reader, one sender at a time).
/// Edges are counted, and a waiter re-checks the count after publishing itself, so an edge between the EAGAIN and the
/// wait is never lost (both sides order their store and load with a full fence). The readiness wait
/// (<see cref="WaitReadableAsync"/>) can be interrupted from any thread (<see cref="InterruptWait"/>, sticky until
/// <see cref="ClearInterrupt"/>), which is how the HTTP receive loop hands the socket to an upgraded WebSocket and
/// how that WebSocket's read loop is stopped; there is no operation in flight to detach, since a wait is only a
/// waiter. <see cref="Close"/> ends every wait with <see cref="SocketError.OperationAborted"/> (closing the
/// descriptor removes it from epoll without an edge).
/// </para>
/// <para>
/// An idle connection holds this object, its slot in the loop, and nothing else: no buffer, no operation object, and
/// the send waiter only if a send ever found the socket buffer full.
/// </para>
/// </summary>
internal sealed class EpollSocket : IValueTaskSource<SocketOperationResult>
{
    /// <summary>Most segments per <c>sendmsg</c>: 64 (Linux allows 1,024; the rest goes in the next call).</summary>
    private const int MaxGather = 64;

    private const int Idle = 0;
    private const int Waiting = 1;

    [ThreadStatic]
    private static ArraySegment<byte>[]? t_gather;

    private readonly SafeSocketHandle _handle;
    private readonly EpollEventLoop _loop;
    private ManualResetValueTaskSourceCore<SocketOperationResult> _readCore;
    private SendWaiter? _sendWaiter;
    private int _readState;
    private int _readEdges;
    private int _writeEdges;
    private int _interrupted;
    private int _closed;
    private bool _readWaitInterruptible;

    /// <summary>Registers <paramref name="socket"/> with <paramref name="loop"/>. The socket must never be used for
    /// the runtime's own asynchronous operations (they would register it with the runtime's epoll too).</summary>
    /// <exception cref="SocketException">The loop could not register the descriptor.</exception>
    public EpollSocket(Socket socket, EpollEventLoop loop)
    {
        _handle = socket.SafeHandle;
        _loop = loop;
        _readCore.RunContinuationsAsynchronously = true;
        loop.Register(this, (int)_handle.DangerousGetHandle());
    }

    /// <summary>The loop's key for this registration (slot and registration number).</summary>
    internal long Token { get; set; }

    /// <summary>True once <see cref="InterruptWait"/> was called and not cleared.</summary>
    public bool IsInterrupted => Volatile.Read(ref _interrupted) != 0;

    // ---- Loop side -------------------------------------------------------------------------------------------

    /// <summary>The loop saw input, the peer's FIN, a hang-up or an error: wake the reader.</summary>
    internal void OnReadable()
    {
        Interlocked.Increment(ref _readEdges); // full fence: pairs with the waiter's publish-then-recheck
        if (Volatile.Read(ref _readState) == Waiting && Interlocked.CompareExchange(ref _readState, Idle, Waiting) == Waiting)
        {
            _readCore.SetResult(default);
        }
    }

    /// <summary>The loop saw room in the send buffer, a hang-up or an error: wake the sender.</summary>
    internal void OnWritable()
    {
        Interlocked.Increment(ref _writeEdges);
        Volatile.Read(ref _sendWaiter)?.TryComplete(default);
    }

    // ---- Receive -----------------------------------------------------------------------------------------------

    /// <summary>
    /// Waits until the socket is readable (data, the peer's FIN or an error) without holding a buffer: a one-byte
    /// <c>MSG_PEEK</c> probe, then, if nothing is there, a wait for the next edge. Returns
    /// <see cref="SocketOperationResult.Interrupted"/> when <see cref="InterruptWait"/> was called (before or during),
    /// <see cref="SocketError.OperationAborted"/> after <see cref="Close"/>. One waiter at a time.
    /// </summary>
    public unsafe ValueTask<SocketOperationResult> WaitReadableAsync()
    {
        while (true)
        {
            if (IsInterrupted)
            {
                return ValueTask.FromResult(SocketOperationResult.Interrupted);
            }
            var edges = Volatile.Read(ref _readEdges);
            byte probe;
            var result = ReceiveCore(&probe, 1, MsgPeek | MsgDontWait);
            if (result.Error != SocketError.WouldBlock)
            {
                return ValueTask.FromResult(result.Succeeded ? default : result);
            }
            if (TryWaitReadable(edges, interruptible: true, out var wait))
            {
                return wait;
            }
        }
    }

    /// <summary>Receives what the kernel holds into <paramref name="buffer"/> without waiting:
    /// <see cref="SocketError.WouldBlock"/> when nothing is there; 0 bytes when the peer closed its side.</summary>
    public unsafe SocketOperationResult TryReceive(Span<byte> buffer)
    {
        fixed (byte* data = buffer)
        {
            return ReceiveCore(data, buffer.Length, MsgDontWait);
        }
    }

    /// <summary>The current count of readable edges: read it before a <see cref="TryReceive"/> that may say
    /// <see cref="SocketError.WouldBlock"/>, and pass it to <see cref="WaitReadableAfterAsync"/>.</summary>
    public int ReadEdges => Volatile.Read(ref _readEdges);

    /// <summary>After a <see cref="TryReceive"/> said <see cref="SocketError.WouldBlock"/>: waits for the next
    /// readable edge after <paramref name="observedEdges"/> (completes at once if one came meanwhile). Interruptible
    /// like <see cref="WaitReadableAsync"/>.</summary>
    public ValueTask<SocketOperationResult> WaitReadableAfterAsync(int observedEdges)
    {
        if (IsInterrupted)
        {
            return ValueTask.FromResult(SocketOperationResult.Interrupted);
        }
        return TryWaitReadable(observedEdges, interruptible: true, out var wait)
            ? wait
            : ValueTask.FromResult(default(SocketOperationResult));
    }

    /// <summary>Receives into <paramref name="buffer"/> (at most its length), waiting for data if none is there
    /// (not interruptible). 0 bytes: the peer closed its sending side.</summary>
    public ValueTask<SocketOperationResult> ReceiveAsync(Memory<byte> buffer)
    {
        var edges = ReadEdges;
        var result = TryReceive(buffer.Span);
        return result.Error == SocketError.WouldBlock ? ReceiveSlowAsync(buffer, edges) : ValueTask.FromResult(result);
    }

    private async ValueTask<SocketOperationResult> ReceiveSlowAsync(Memory<byte> buffer, int edges)
    {
        while (true)
        {
            if (TryWaitReadable(edges, interruptible: false, out var wait))
            {
                var ready = await wait.ConfigureAwait(false);
                if (!ready.Succeeded)
                {
                    return ready;
                }
            }
            edges = ReadEdges;
            var result = TryReceive(buffer.Span);
            if (result.Error != SocketError.WouldBlock)
            {
                return result;
            }
        }
    }

    private unsafe SocketOperationResult ReceiveCore(byte* data, int length, int flags)
    {
        while (true)
        {
            nint received;
            try
            {
                received = Receive(_handle, data, (nuint)length, flags);
            }
            catch (ObjectDisposedException)
            {
                return new SocketOperationResult(0, SocketError.OperationAborted);
            }
            if (received >= 0)
            {
                return new SocketOperationResult((int)received, SocketError.Success);
            }
            var errno = Marshal.GetLastPInvokeError();
            if (!Interrupted(errno))
            {
                return new SocketOperationResult(0, ToSocketError(errno));
            }
        }
    }

    /// <summary>Publishes the reader as waiting unless an edge came after <paramref name="observedEdges"/>, the wait
    /// was interrupted or the socket closed. False: retry at once (an edge came, and the wait was withdrawn).</summary>
    private bool TryWaitReadable(int observedEdges, bool interruptible, out ValueTask<SocketOperationResult> wait)
    {
        _readCore.Reset();
        _readWaitInterruptible = interruptible;
        Interlocked.Exchange(ref _readState, Waiting); // full fence: pairs with OnReadable's increment-then-read
        SocketOperationResult? early = null;
        if (Volatile.Read(ref _closed) != 0)
        {
            early = new SocketOperationResult(0, SocketError.OperationAborted);
        }
        else if (interruptible && IsInterrupted)
        {
            early = SocketOperationResult.Interrupted;
        }
        else if (Volatile.Read(ref _readEdges) != observedEdges)
        {
            early = default(SocketOperationResult);
        }
        if (early is { } value && Interlocked.CompareExchange(ref _readState, Idle, Waiting) == Waiting)
        {
            if (value.Succeeded)
            {
                wait = default;
                return false;
            }
            wait = ValueTask.FromResult(value);
            return true;
        }
        // Waiting, or already completed by the loop, an interrupt or a close: _readCore carries the result.
        wait = new ValueTask<SocketOperationResult>(this, _readCore.Version);
        return true;
    }

    /// <summary>
    /// Ends the pending <see cref="WaitReadableAsync"/> now (its awaiter gets
    /// <see cref="SocketOperationResult.Interrupted"/>) and makes every later one return that at once, until
    /// <see cref="ClearInterrupt"/>. A receive waiting inside <see cref="ReceiveAsync"/> is not affected. Any thread.
    /// </summary>
    public void InterruptWait()
    {
        Interlocked.Exchange(ref _interrupted, 1);
        if (Volatile.Read(ref _readState) == Waiting && _readWaitInterruptible &&
            Interlocked.CompareExchange(ref _readState, Idle, Waiting) == Waiting)
        {
            _readCore.SetResult(SocketOperationResult.Interrupted);
        }
    }

    /// <summary>Lets waits wait again after <see cref="InterruptWait"/> (by the next owner, once the previous one
    /// has stopped).</summary>
    public void ClearInterrupt() => Interlocked.Exchange(ref _interrupted, 0);

    // ---- Send --------------------------------------------------------------------------------------------------

    /// <summary>Gathered send of <paramref name="buffers"/> (one <c>sendmsg</c> for up to 64 segments). Completes
    /// when every byte was handed to the kernel — synchronously unless the socket buffer fills. One send at a time;
    /// the segments must stay untouched until it completes.</summary>
    public ValueTask<SocketOperationResult> SendAsync(IList<ArraySegment<byte>> buffers)
    {
        long total = 0;
        for (var i = 0; i < buffers.Count; i++)
        {
            total += buffers[i].Count;
        }
        var edges = Volatile.Read(ref _writeEdges);
        var error = SendFrom(buffers, default, 0, total, out var sent);
        return error == SocketError.WouldBlock
            ? SendSlowAsync(buffers, default, sent, total, edges)
            : ValueTask.FromResult(new SocketOperationResult(error == SocketError.Success ? (int)Math.Min(total, int.MaxValue) : 0, error));
    }

    /// <summary>Gathered send of a pipe's <paramref name="buffers"/> (array-backed segments), as
    /// <see cref="SendAsync(IList{ArraySegment{byte}})"/>.</summary>
    public ValueTask<SocketOperationResult> SendAsync(in ReadOnlySequence<byte> buffers)
    {
        var total = buffers.Length;
        var edges = Volatile.Read(ref _writeEdges);
        var error = SendFrom(null, buffers, 0, total, out var sent);
        return error == SocketError.WouldBlock
            ? SendSlowAsync(null, buffers, sent, total, edges)
            : ValueTask.FromResult(new SocketOperationResult(error == SocketError.Success ? (int)Math.Min(total, int.MaxValue) : 0, error));
    }

    private async ValueTask<SocketOperationResult> SendSlowAsync(IList<ArraySegment<byte>>? list, ReadOnlySequence<byte> sequence,
        long sent, long total, int edges)
    {
        var waiter = _sendWaiter;
        if (waiter is null)
        {
            waiter = new SendWaiter();
            Volatile.Write(ref _sendWaiter, waiter);
        }
        while (true)
        {
            var ready = await waiter.WaitAsync(this, edges).ConfigureAwait(false);
            if (!ready.Succeeded)
            {
                return ready;
            }
            edges = Volatile.Read(ref _writeEdges);
            var error = SendFrom(list, sequence, sent, total, out sent);
            if (error != SocketError.WouldBlock)
            {
                return new SocketOperationResult(error == SocketError.Success ? (int)Math.Min(total, int.MaxValue) : 0, error);
            }
        }
    }

    /// <summary>Sends from byte <paramref name="from"/> until all <paramref name="total"/> bytes are sent, the kernel
    /// says EAGAIN (<see cref="SocketError.WouldBlock"/>) or an error occurs; <paramref name="sent"/> is the progress.</summary>
    private unsafe SocketError SendFrom(IList<ArraySegment<byte>>? list, in ReadOnlySequence<byte> sequence, long from, long total, out long sent)
    {
        sent = from;
        var gather = t_gather ??= new ArraySegment<byte>[MaxGather];
        var vectors = stackalloc IoVector[MaxGather];
        while (sent < total)
        {
            var count = list is not null ? Collect(list, sent, gather) : Collect(sequence, sent, gather);
            nint written;
            try
            {
                written = SendPinned(gather, count, vectors, 0);
            }
            catch (ObjectDisposedException)
            {
                Array.Clear(gather, 0, count);
                return SocketError.OperationAborted;
            }
            // The thread's gather array must not keep another connection's frames alive.
            Array.Clear(gather, 0, count);
            if (written < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (Interrupted(errno))
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
    /// level (free unless a GC runs during the call) and makes the <c>sendmsg</c> at the bottom.</summary>
    private unsafe nint SendPinned(ArraySegment<byte>[] gather, int count, IoVector* vectors, int index)
    {
        if (index == count)
        {
            var header = new MessageHeader { IoVectors = vectors, IoVectorCount = (nuint)count };
            return SendMessage(_handle, &header, MsgNoSignal | MsgDontWait);
        }
        var segment = gather[index];
        fixed (byte* data = segment.Array)
        {
            vectors[index].Base = data + segment.Offset;
            vectors[index].Length = (nuint)segment.Count;
            return SendPinned(gather, count, vectors, index + 1);
        }
    }

    // ---- Close -------------------------------------------------------------------------------------------------

    /// <summary>The descriptor is closed (or being closed): every pending and later wait ends with
    /// <see cref="SocketError.OperationAborted"/>, and the loop's slot is freed. Idempotent; any thread.</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }
        var aborted = new SocketOperationResult(0, SocketError.OperationAborted);
        if (Interlocked.CompareExchange(ref _readState, Idle, Waiting) == Waiting)
        {
            _readCore.SetResult(aborted);
        }
        Volatile.Read(ref _sendWaiter)?.TryComplete(aborted);
        _loop.Unregister(this);
    }

    internal bool IsClosed => Volatile.Read(ref _closed) != 0;

    internal int WriteEdges => Volatile.Read(ref _writeEdges);

    public SocketOperationResult GetResult(short token) => _readCore.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _readCore.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _readCore.OnCompleted(continuation, state, token, flags);

    /// <summary>The sender's wait for a writable edge, created at the first send that found the socket buffer full
    /// (most connections never need it).</summary>
    private sealed class SendWaiter : IValueTaskSource<SocketOperationResult>
    {
        private ManualResetValueTaskSourceCore<SocketOperationResult> _core;
        private int _state;

        public SendWaiter() => _core.RunContinuationsAsynchronously = true;

        public ValueTask<SocketOperationResult> WaitAsync(EpollSocket socket, int observedEdges)
        {
            _core.Reset();
            Interlocked.Exchange(ref _state, Waiting); // full fence: pairs with OnWritable's increment-then-read
            if (socket.IsClosed)
            {
                if (Interlocked.CompareExchange(ref _state, Idle, Waiting) == Waiting)
                {
                    return ValueTask.FromResult(new SocketOperationResult(0, SocketError.OperationAborted));
                }
            }
            else if (socket.WriteEdges != observedEdges && Interlocked.CompareExchange(ref _state, Idle, Waiting) == Waiting)
            {
                return ValueTask.FromResult(default(SocketOperationResult));
            }
            return new ValueTask<SocketOperationResult>(this, _core.Version);
        }

        public void TryComplete(SocketOperationResult result)
        {
            if (Volatile.Read(ref _state) == Waiting && Interlocked.CompareExchange(ref _state, Idle, Waiting) == Waiting)
            {
                _core.SetResult(result);
            }
        }

        public SocketOperationResult GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
