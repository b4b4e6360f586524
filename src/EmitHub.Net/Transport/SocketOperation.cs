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
    /// <summary>What <see cref="SocketReceiver.WaitReadableAsync"/> returns when <see cref="SocketReceiver.InterruptWait"/>
    /// ended it: not a socket error (a receive on Linux never reports EINTR; it is retried).</summary>
    public static SocketOperationResult Interrupted => new(0, SocketError.Interrupted);

    public bool Succeeded => Error == SocketError.Success;

    /// <summary>True when the wait was ended by <see cref="SocketReceiver.InterruptWait"/>, not by the socket.</summary>
    public bool IsInterrupted => Error == SocketError.Interrupted;
}

/// <summary>
/// A reusable <see cref="SocketAsyncEventArgs"/> for sends, awaited as a <see cref="ValueTask{T}"/>: no allocation
/// per operation and failures come back as <see cref="SocketError"/> values instead of exceptions (a peer reset is
/// routine, not exceptional). Sends rent one from <see cref="SocketSenderPool"/> for the rest of a send that met
/// EAGAIN (<see cref="DirectSend"/>); receives go through <see cref="SocketReceiver"/>.
/// </summary>
internal sealed class SocketOperation : SocketAsyncEventArgs, IValueTaskSource<SocketOperationResult>
{
    private ManualResetValueTaskSourceCore<SocketOperationResult> _core;
    private List<ArraySegment<byte>>? _bufferList;

    public SocketOperation() : base(unsafeSuppressExecutionContextFlow: true)
    {
        _core.RunContinuationsAsynchronously = true;
    }

    protected override void OnCompleted(SocketAsyncEventArgs e) =>
        _core.SetResult(new SocketOperationResult(BytesTransferred, SocketError));

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
