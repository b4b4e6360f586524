using System.Buffers;
using System.Net.Sockets;

namespace EmitHub.Net.Transport;

/// <summary>
/// The receive side handed over to an upgraded protocol (issue 10): after a WebSocket upgrade on a plain TCP
/// connection, the transport's receive loop stops and the input pipe is released, and the WebSocket reads the socket
/// itself — a readiness wait (<see cref="WaitForInputAsync"/>), then a receive into a buffer it borrows only for
/// that read (<see cref="ReceiveDirect"/>). An idle WebSocket then holds its <see cref="SocketReceiver"/> with a
/// one-shot epoll registration armed, and neither a pipe nor a parked transport loop. TLS connections keep the pipe (their bytes come out of <see cref="System.Net.Security.SslStream"/>).
/// </summary>
public sealed partial class ConnectionContext
{
    private volatile bool _receivesDirectly;
    private volatile bool _inputCancelled;

    /// <summary>True when <see cref="TakeOverReceiveAsync"/> is available: a plain TCP connection (not TLS) whose
    /// receive side has not been handed over yet.</summary>
    public bool CanTakeOverReceive => _tls is null && _ssl is null && !_receivesDirectly;

    /// <summary>
    /// Hands the socket's receive side to the caller (an upgraded protocol, after the request head was consumed from
    /// <see cref="Input"/>): interrupts the transport's receive loop (its armed readiness wait stays armed, detached,
    /// for the caller's first <see cref="WaitForInputAsync"/>), waits for the loop to end, copies the bytes it had
    /// already put into the input pipe after the request head — the peer's first frames, to be processed before
    /// anything received later — and releases the pipe. Returns those bytes in an array rented from
    /// <see cref="ArrayPool{T}.Shared"/> (the caller returns it) with their count, or (null, 0) when there were none.
    /// A stop requested or an input cancel made before or during the hand-over carries over: the first wait then
    /// returns interrupted. From then on <see cref="Input"/> throws.
    /// </summary>
    /// <exception cref="InvalidOperationException">A TLS connection, or the receive side was already handed over.</exception>
    public async ValueTask<(byte[]? Buffer, int Length)> TakeOverReceiveAsync()
    {
        if (!CanTakeOverReceive || _input is not { } input)
        {
            throw new InvalidOperationException("Only a plain TCP connection's receive side can be handed over, once.");
        }
        _receiver.InterruptWait();
        // A loop blocked in FlushAsync (over the pause threshold) ends too; what it wrote stays readable.
        input.Writer.CancelPendingFlush();
        await _receiving.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _receiving = Task.CompletedTask;
        byte[]? buffer = null;
        var length = 0;
        var reader = input.Reader;
        if (reader.TryRead(out var result))
        {
            if (!result.Buffer.IsEmpty)
            {
                length = checked((int)result.Buffer.Length);
                buffer = ArrayPool<byte>.Shared.Rent(length);
                result.Buffer.CopyTo(buffer);
            }
            reader.AdvanceTo(result.Buffer.End);
        }
        await reader.CompleteAsync().ConfigureAwait(false);
        _input = null;
        _receiver.ClearInterrupt();
        _receivesDirectly = true;
        // Full fence between the mode write and the flag reads, against CancelPendingInputCore's flag write before
        // its mode read: a stop or cancel racing the hand-over is seen by one side or the other.
        Interlocked.MemoryBarrier();
        if (_inputCancelled || StopRequested)
        {
            _receiver.InterruptWait();
        }
        return (buffer, length);
    }

    /// <summary>
    /// After <see cref="TakeOverReceiveAsync"/>: waits until the socket is readable without holding a buffer (a
    /// one-shot epoll registration, <see cref="SocketReceiver"/>). Pass the result to <see cref="IsInputReady"/>. The source's own ValueTask is returned (no
    /// async wrapper), so an idle connection parks only its reader's state machine. One waiter at a time.
    /// </summary>
    internal ValueTask<SocketOperationResult> WaitForInputAsync() => _receiver.WaitReadableAsync();

    /// <summary>True when data, the peer's FIN or an error is there to be received; false when
    /// <see cref="CancelPendingInput"/> or <see cref="RequestStop"/> ended the wait (as <c>CancelPendingRead</c> ends
    /// a pipe read; it stays ended) or the wait failed (recorded as the close reason).</summary>
    internal bool IsInputReady(SocketOperationResult ready)
    {
        if (ready.IsInterrupted)
        {
            return false;
        }
        if (!ready.Succeeded)
        {
            RecordSocketError(ready.Error);
            return false;
        }
        return true;
    }

    /// <summary>After <see cref="IsInputReady"/> returned true: receives into <paramref name="buffer"/> what the
    /// kernel holds (at most its length), without blocking. Pass the result to <see cref="CountReceived"/>.</summary>
    internal SocketOperationResult ReceiveDirect(Span<byte> buffer) => _receiver.Receive(buffer);

    /// <summary>The bytes a <see cref="ReceiveDirect"/> delivered; 0 when the peer closed its sending side
    /// (<see cref="ConnectionCloseReason.RemoteClosed"/> recorded) or the receive failed (recorded); -1 when nothing
    /// was there after all (the readiness was spent: wait again).</summary>
    internal int CountReceived(SocketOperationResult received)
    {
        if (received.Error == SocketError.WouldBlock)
        {
            return -1;
        }
        if (!received.Succeeded)
        {
            RecordSocketError(received.Error);
            return 0;
        }
        if (received.BytesTransferred == 0)
        {
            TrySetCloseReason(ConnectionCloseReason.RemoteClosed);
            return 0;
        }
        _bytesReceived += received.BytesTransferred;
        return received.BytesTransferred;
    }

    /// <summary>
    /// Ends the owning protocol's reading: cancels the pending read of <see cref="Input"/> or, after a hand-over,
    /// ends the pending <see cref="WaitForInputAsync"/> (and every later one). Sticky across the hand-over: a cancel
    /// made while it is in progress ends the first direct wait. Any thread.
    /// </summary>
    public void CancelPendingInput()
    {
        _inputCancelled = true;
        Interlocked.MemoryBarrier();
        CancelPendingInputCore();
    }

    private void CancelPendingInputCore()
    {
        if (_receivesDirectly)
        {
            _receiver.InterruptWait();
        }
        else
        {
            // Read once: the hand-over may release the pipe concurrently (cancelling a completed pipe is harmless).
            Volatile.Read(ref _input)?.Reader.CancelPendingRead();
        }
    }

    /// <summary>The direct counterpart of <c>LingerAsync</c>: read and discard until the peer closes (RunAsync bounds
    /// it by the linger time and disposes the socket, which ends a wait still pending).</summary>
    private async Task LingerDirectAsync()
    {
        // The owning protocol has ended; its interrupt (end of its read loop) must not end this one.
        _receiver.ClearInterrupt();
        while (true)
        {
            var ready = await _receiver.WaitReadableAsync().ConfigureAwait(false);
            if (!ready.Succeeded)
            {
                return;
            }
            var scratch = ArrayPool<byte>.Shared.Rent(ReceiveChunk);
            try
            {
                var received = _receiver.Receive(scratch);
                if (received.Error == SocketError.WouldBlock)
                {
                    continue;
                }
                if (!received.Succeeded || received.BytesTransferred == 0)
                {
                    return;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }
        }
    }
}
