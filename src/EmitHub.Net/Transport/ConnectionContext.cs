using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace EmitHub.Net.Transport;

/// <summary>
/// One accepted TCP connection: a receive loop filling <see cref="Input"/> and a send loop draining
/// <see cref="Output"/>, both over System.IO.Pipelines. The transport knows no HTTP; HTTP (and, after an upgrade,
/// WebSocket) read <see cref="Input"/> and write <see cref="Output"/>.
/// <para>
/// Idle connections hold no buffers: each receive first waits for readiness (<see cref="SocketReceiver"/>) and only then rents pipe
/// memory. Input is bounded: the receive loop stops reading the socket when <see cref="InputPauseThreshold"/> bytes
/// are unread and resumes below <see cref="InputResumeThreshold"/> (TCP flow control pushes back on the peer).
/// Socket failures are values; the first <see cref="ConnectionCloseReason"/> recorded wins.
/// </para>
/// <para>
/// A TLS connection (<c>[tls]</c> configured) takes a separate, stream-based path through <see cref="System.Net.Security.SslStream"/>
/// (ConnectionContext.Tls.cs): the same pipes, filled and drained by TLS loops, so HTTP and WebSocket do not know
/// the difference and the plain-text loops below stay as they are.
/// </para>
/// <para>
/// After a WebSocket upgrade on a plain TCP connection the receive side can be handed over
/// (ConnectionContext.DirectReceive.cs): the receive loop stops, the input pipe is released, and the WebSocket reads
/// the socket itself, so an idle WebSocket holds neither a pipe nor this loop.
/// </para>
/// </summary>
public sealed partial class ConnectionContext
{
    /// <summary>Unread input bytes at which the receive loop pauses: 1 MiB + 128 KiB, enough for the largest
    /// request (1 MiB default message limit + 64 KiB slack + 40 KiB head) and the same order as Kestrel's 1 MiB.</summary>
    public const long InputPauseThreshold = (1024 + 128) * 1024;

    /// <summary>Unread input bytes below which the receive loop resumes: half the pause threshold.</summary>
    public const long InputResumeThreshold = InputPauseThreshold / 2;

    /// <summary>Unsent output bytes at which writers' <c>FlushAsync</c> waits for the send loop: 1 MiB.</summary>
    public const long OutputPauseThreshold = 1024 * 1024;

    /// <summary>Smallest output pipe segment: 4 KiB (one pool block), for HTTP responses.</summary>
    private const int MinimumOutputSegment = 4096;

    /// <summary>Most bytes taken from the socket per receive: 16 KiB (a large body arrives in a few receives).</summary>
    private const int ReceiveChunk = 16 * 1024;

    /// <summary>Smallest input pipe segment: 256 bytes, so an idle connection's retained block is small.</summary>
    private const int MinimumInputSegment = 256;

    /// <summary>How long a closing connection keeps reading (and discarding) after its last response so the peer
    /// sees that response instead of a reset caused by unread data: 1 s.</summary>
    private static readonly TimeSpan s_lingerTime = TimeSpan.FromSeconds(1);

    /// <summary>How long a closing connection waits for its queued output to be sent: 5 s.</summary>
    private static readonly TimeSpan s_drainTime = TimeSpan.FromSeconds(5);

    private readonly Socket _socket;
    // Null once the receive side was handed over (TakeOverReceiveAsync): the pipe's memory is then garbage.
    private Pipe? _input;
    // Null once an upgraded protocol completed it (CompleteOutputAsync): the pipe is then garbage, not held for the
    // WebSocket's lifetime.
    private Pipe? _output;
    private readonly SocketReceiver _receiver;
    private readonly ILogger _logger;
    private IConnectionHeartbeatHandler? _heartbeatHandler;
    private Task _sending = Task.CompletedTask;
    private Task _receiving = Task.CompletedTask;
    // The owner's close callback and the server's stop token, and after an upgrade the upgraded protocol's task: what the
    // close needs when it runs as that task's continuation (OnUpgradedEnded). Three fields and one delegate instead of RunAsync's
    // state machine parked for the connection's whole life (issue 10: about 110 bytes less per idle WebSocket).
    private Task? _upgradedRun;
    private CancellationToken _serverStopping;
    private Action<ConnectionContext>? _onClosed;
    private int _closed;
    private int _closeReason;
    private bool _stopRequested;
    // Written by one loop each, read (torn-free on 64-bit) by the metrics collection: no interlocked traffic per send.
    private long _bytesReceived;
    private long _bytesSent;

    internal ConnectionContext(long id, Socket socket, MemoryPool<byte> pool, TimeProvider time, ILogger logger,
        TlsCertificateSource? tls = null)
    {
        _tls = tls;
        Id = id;
        _socket = socket;
        _receiver = new SocketReceiver(socket);
        _logger = logger;
        Time = time;
        MemoryPool = pool;
        RemoteEndPoint = socket.RemoteEndPoint;
        LocalEndPoint = socket.LocalEndPoint;
        _input = new Pipe(new PipeOptions(pool, PipeScheduler.ThreadPool, PipeScheduler.ThreadPool,
            InputPauseThreshold, InputResumeThreshold, MinimumInputSegment, useSynchronizationContext: false));
        _output = new Pipe(new PipeOptions(pool, PipeScheduler.ThreadPool, PipeScheduler.ThreadPool,
            OutputPauseThreshold, OutputPauseThreshold / 2, MinimumOutputSegment, useSynchronizationContext: false));
    }

    /// <summary>True once the connection has closed and its owner's close callback ran (the last step of
    /// <see cref="RunAsync"/>, or of the close that follows an upgraded protocol).</summary>
    internal bool HasClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Server-unique connection number (also the heartbeat registration key).</summary>
    public long Id { get; }

    /// <summary>The peer's address.</summary>
    public EndPoint? RemoteEndPoint { get; }

    /// <summary>The local address the connection was accepted on.</summary>
    public EndPoint? LocalEndPoint { get; }

    /// <summary>Bytes received from the peer. Only the protocol currently owning the connection reads it.</summary>
    /// <exception cref="InvalidOperationException">The receive side was handed over to an upgraded WebSocket.</exception>
    public PipeReader Input => (_input ?? throw new InvalidOperationException("The input was handed over to the upgraded protocol.")).Reader;

    /// <summary>Bytes to send to the peer. <c>FlushAsync</c> hands them to the send loop, which sends every queued
    /// segment in one gathered send. Only the owning protocol writes it.</summary>
    /// <exception cref="InvalidOperationException">The output was completed by an upgraded protocol.</exception>
    public PipeWriter Output => (_output ?? throw new InvalidOperationException("The output was completed for the upgraded protocol.")).Writer;

    /// <summary>Bytes received from the peer so far (after TLS decryption on a TLS connection).</summary>
    public long BytesReceived => Volatile.Read(ref _bytesReceived);

    /// <summary>Bytes handed to the kernel for the peer so far (before TLS encryption on a TLS connection).</summary>
    public long BytesSent => Volatile.Read(ref _bytesSent);

    /// <summary>The server's time source (the heartbeat runs on it).</summary>
    public TimeProvider Time { get; }

    /// <summary>The pool both pipes rent from.</summary>
    public MemoryPool<byte> MemoryPool { get; }

    /// <summary>Why the connection ended, or <see cref="ConnectionCloseReason.None"/> while open.</summary>
    public ConnectionCloseReason CloseReason => (ConnectionCloseReason)Volatile.Read(ref _closeReason);

    /// <summary>Records why the connection ends. Only the first call wins (compare-and-swap); later reasons are
    /// symptoms of the first and are ignored.</summary>
    /// <returns>True when this call recorded the reason.</returns>
    public bool TrySetCloseReason(ConnectionCloseReason reason) =>
        reason != ConnectionCloseReason.None &&
        Interlocked.CompareExchange(ref _closeReason, (int)reason, 0) == 0;

    /// <summary>Installs the handler the heartbeat calls every tick (about 1 s), replacing the previous one. HTTP
    /// installs its timeout handler; a protocol that takes over after an upgrade installs its own; null stops
    /// heartbeat calls for this connection.</summary>
    public void SetHeartbeatHandler(IConnectionHeartbeatHandler? handler) => Volatile.Write(ref _heartbeatHandler, handler);

    /// <summary>True once the server asked this connection to end (<see cref="RequestStop"/>).</summary>
    public bool StopRequested => Volatile.Read(ref _stopRequested);

    /// <summary>The server is stopping: records it (<see cref="StopRequested"/>), tells the installed handler
    /// (<see cref="IConnectionHeartbeatHandler.OnStopRequested"/>: a WebSocket sends 1001), then cancels the pending
    /// read of <see cref="Input"/> (or, after a hand-over, interrupts the direct receive wait), so an idle HTTP
    /// connection closes now and one answering a request closes after it.
    /// The flag lives here, not in the protocol, so the server tracks connections without keeping their HTTP objects
    /// alive after an upgrade. A handler installed after this call must check <see cref="StopRequested"/> itself
    /// (after a full fence: the write here and that read form a store/load pair).</summary>
    public void RequestStop()
    {
        Volatile.Write(ref _stopRequested, true);
        Interlocked.MemoryBarrier();
        Volatile.Read(ref _heartbeatHandler)?.OnStopRequested();
        CancelPendingInputCore();
    }

    private long _outputBytesCommitted;

    /// <summary>
    /// Counts <paramref name="bytes"/> about to be flushed to <see cref="Output"/> (the HTTP side calls it with the
    /// writer's unflushed bytes before each flush), so <see cref="BufferedOutputBytes"/> can tell what is waiting.
    /// </summary>
    internal void OnOutputFlushing(long bytes) => _outputBytesCommitted += bytes;

    /// <summary>Output bytes flushed but not yet handed to the kernel, plus unflushed ones (approximate while a
    /// send is in flight; for tests and diagnostics).</summary>
    internal long BufferedOutputBytes
    {
        get
        {
            long unflushed;
            try
            {
                unflushed = Volatile.Read(ref _output)?.Writer.UnflushedBytes ?? 0;
            }
            catch (InvalidOperationException)
            {
                unflushed = 0;
            }
            return Volatile.Read(ref _outputBytesCommitted) + unflushed - BytesSent;
        }
    }

    internal void OnHeartbeat(DateTimeOffset now) => Volatile.Read(ref _heartbeatHandler)?.OnHeartbeat(now);

    /// <summary>Closes the connection at once without sending queued output (records <paramref name="reason"/> if
    /// none was recorded). Both loops end; the owning protocol's reads complete.</summary>
    public void Abort(ConnectionCloseReason reason)
    {
        TrySetCloseReason(reason);
        try
        {
            _socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        _socket.Dispose();
        _receiver.Close();
    }

    /// <summary>
    /// Runs the connection: starts the receive and send loops, runs <paramref name="application"/> (HTTP; it owns
    /// <see cref="Input"/>/<see cref="Output"/>), then the upgraded protocol it returns, if any (stopped by
    /// <paramref name="serverStopping"/>), then sends what is queued, shuts down the sending side, lingers briefly, and
    /// disposes the socket; last, calls <paramref name="onClosed"/> (then <see cref="HasClosed"/> is true). Never
    /// throws. The returned task completes when the connection closed or, after an upgrade, as soon as the upgraded
    /// protocol runs: its end closes the connection as a continuation, so nothing stays parked for an idle WebSocket's
    /// life. Wait for <see cref="HasClosed"/> to know the connection ended.
    /// </summary>
    internal async Task RunAsync(Func<ConnectionContext, Task<Http.IUpgradedConnection?>> application, CancellationToken serverStopping,
        Action<ConnectionContext>? onClosed = null)
    {
        _serverStopping = serverStopping;
        _onClosed = onClosed;
        var handedOff = false;
        try
        {
            if (_tls is not null && !await AuthenticateTlsAsync(_tls).ConfigureAwait(false))
            {
                CloseAfterFailedHandshake();
                return;
            }
            // Kept in fields, not locals of this method: a hand-over replaces _receiving, so the finished loop's task is
            // garbage while the upgraded protocol runs.
            _receiving = _ssl is null ? ReceiveLoopAsync() : TlsReceiveLoopAsync(_ssl);
            // A field, not a local: CompleteOutputAsync replaces it once the loop ended, so an upgraded connection does
            // not hold the finished loop's state machine.
            _sending = _ssl is null ? SendLoopAsync() : TlsSendLoopAsync(_ssl);
            try
            {
                var upgraded = await application(this).ConfigureAwait(false);
                if (upgraded is not null)
                {
                    // Run here, not by the application awaiting it, so nothing of the HTTP side stays reachable; and not
                    // awaited here either: its end runs the close as a continuation (OnUpgradedEnded).
                    var running = upgraded.RunAsync(serverStopping);
                    upgraded = null;
                    _upgradedRun = running;
                    handedOff = true;
                    running.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(OnUpgradedEnded);
                    return;
                }
            }
            catch (Exception e)
            {
                Failed(e);
            }
            await CloseAsync().ConfigureAwait(false);
        }
        finally
        {
            if (!handedOff)
            {
                Closed();
            }
        }
    }

    /// <summary>The upgraded protocol's task ended (its continuation; any thread): records how, then closes.</summary>
    private void OnUpgradedEnded() => _ = CloseAfterUpgradeAsync();

    private async Task CloseAfterUpgradeAsync()
    {
        var running = _upgradedRun!;
        _upgradedRun = null;
        try
        {
            try
            {
                await running.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_serverStopping.IsCancellationRequested)
            {
                TrySetCloseReason(ConnectionCloseReason.ServerShutdown);
            }
            catch (Exception e)
            {
                Failed(e);
            }
            TrySetCloseReason(ConnectionCloseReason.UpgradedProtocolClosed);
            await CloseAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Nobody observes this task (it is a continuation's): log rather than lose what the close threw.
            Failed(e);
        }
        finally
        {
            Closed();
        }
    }

    private void Failed(Exception e)
    {
        TrySetCloseReason(ConnectionCloseReason.InternalError);
        TransportLog.ConnectionFailed(_logger, Id, e);
    }

    /// <summary>The last step of every connection, once: the owner's bookkeeping, then <see cref="HasClosed"/>.</summary>
    private void Closed()
    {
        _receiver.Close();
        // The owner's bookkeeping runs here rather than in a wrapper that awaits the connection: a wrapper would be one
        // more state machine parked for the connection's whole life.
        var onClosed = _onClosed;
        _onClosed = null;
        try
        {
            onClosed?.Invoke(this);
        }
        finally
        {
            Volatile.Write(ref _closed, 1);
        }
    }

    /// <summary>After the application (and the upgraded protocol, if any) finished: sends what is queued, shuts down
    /// the sending side, lingers briefly, disposes the socket and logs the close.</summary>
    private async Task CloseAsync()
    {
        if (_output is { } output)
        {
            await output.Writer.CompleteAsync().ConfigureAwait(false);
        }
        try
        {
            await _sending.WaitAsync(s_drainTime).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            TrySetCloseReason(ConnectionCloseReason.SocketError);
        }

        if (_ssl is not null && CloseReason is not (ConnectionCloseReason.SocketError or ConnectionCloseReason.RemoteClosed))
        {
            await TlsCloseNotifyAsync(_ssl).ConfigureAwait(false);
        }
        var lingering = Task.CompletedTask;
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
            if (_receivesDirectly)
            {
                lingering = LingerDirectAsync();
                await lingering.WaitAsync(s_lingerTime).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            else
            {
                await LingerAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        _socket.Dispose();
        // Ends a direct linger still waiting (a closed descriptor leaves epoll without a word).
        _receiver.Close();
        _ssl?.Dispose();
        if (_input is { } input)
        {
            await input.Reader.CompleteAsync().ConfigureAwait(false);
        }
        await _receiving.ConfigureAwait(false);
        await lingering.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        TrySetCloseReason(ConnectionCloseReason.ResponseClose);
        TransportLog.ConnectionClosed(_logger, Id, RemoteEndPoint, CloseReason);
    }

    /// <summary>
    /// Ends the use of <see cref="Output"/>: completes it and waits until the send loop has sent everything written
    /// to it (the 101 response). From then on the owning protocol sends with <see cref="SendAsync"/> straight from
    /// its own buffers, so a frame shared by thousands of connections is never copied per connection.
    /// Returns false when the queued output could not be sent.
    /// </summary>
    public async ValueTask<bool> CompleteOutputAsync()
    {
        var output = _output ?? throw new InvalidOperationException("The output was already completed.");
        await output.Writer.CompleteAsync().ConfigureAwait(false);
        await _sending.ConfigureAwait(false);
        // The loop has completed the reader: nothing references the pipe's memory any more.
        _sending = Task.CompletedTask;
        _output = null;
        return CloseReason is not (ConnectionCloseReason.SocketError or ConnectionCloseReason.RemoteClosed);
    }

    /// <summary>
    /// One gathered send of <paramref name="buffers"/> (after <see cref="CompleteOutputAsync"/>; one send at a
    /// time). Completes when every byte was handed to the kernel. A failure is returned as a value and recorded as
    /// the close reason. <paramref name="buffers"/> is not referenced once this call returns, even while the send is
    /// still pending, so the caller may clear and reuse it at once (the segments' memory must stay valid until the
    /// send completes).
    /// </summary>
    public async ValueTask<SocketError> SendAsync(IList<ArraySegment<byte>> buffers)
    {
        if (_ssl is not null)
        {
            return await TlsSendAsync(_ssl, buffers).ConfigureAwait(false);
        }
        var result = await DirectSend.SendAsync(_socket, buffers).ConfigureAwait(false);
        _bytesSent += result.BytesTransferred;
        if (!result.Succeeded)
        {
            RecordSocketError(result.Error);
        }
        return result.Error;
    }

    private async Task LingerAsync()
    {
        // Unread bytes at close() make the kernel send RST, which can destroy our last response in the peer's
        // buffer; so read and discard until the peer closes or the linger time passes.
        using var cts = new CancellationTokenSource(s_lingerTime);
        try
        {
            while (true)
            {
                var result = await _input!.Reader.ReadAsync(cts.Token).ConfigureAwait(false);
                _input.Reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (InvalidOperationException)
        {
            // The application already completed the reader.
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var writer = _input!.Writer;
        try
        {
            while (true)
            {
                // Wait for readability without holding a buffer. Interrupted when an upgraded
                // WebSocket takes the receive side over (TakeOverReceiveAsync): the loop ends, the wait stays in
                // flight for the WebSocket.
                var ready = await _receiver.WaitReadableAsync().ConfigureAwait(false);
                if (ready.IsInterrupted)
                {
                    return;
                }
                if (!ready.Succeeded)
                {
                    RecordSocketError(ready.Error);
                    return;
                }
                // Receive into a pooled scratch buffer and copy exactly what arrived into the pipe: a pipe keeps its
                // last, partly filled block while the connection idles, and with right-sized segments that block is a
                // few hundred bytes instead of 4 KiB per idle WebSocket (the copy is of inbound bytes only, which
                // are small here; fan-out traffic is outbound and never copied).
                var scratch = ArrayPool<byte>.Shared.Rent(ReceiveChunk);
                try
                {
                    var received = _receiver.Receive(scratch);
                    if (received.Error == SocketError.WouldBlock)
                    {
                        continue; // the readiness was spent meanwhile: wait again
                    }
                    if (!received.Succeeded)
                    {
                        RecordSocketError(received.Error);
                        return;
                    }
                    if (received.BytesTransferred == 0)
                    {
                        TrySetCloseReason(ConnectionCloseReason.RemoteClosed);
                        return;
                    }
                    writer.Write(scratch.AsSpan(0, received.BytesTransferred));
                    _bytesReceived += received.BytesTransferred;
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(scratch);
                }
                var flush = await writer.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException)
        {
            // Socket disposed by Abort or the reader completed: the connection is ending anyway.
        }
        finally
        {
            await writer.CompleteAsync().ConfigureAwait(false);
        }
    }

    private async Task SendLoopAsync()
    {
        var reader = _output!.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    var sent = await DirectSend.SendAsync(_socket, buffer).ConfigureAwait(false);
                    if (!sent.Succeeded)
                    {
                        RecordSocketError(sent.Error);
                        return;
                    }
                    _bytesSent += buffer.Length;
                }
                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    internal void RecordSocketError(SocketError error) =>
        TrySetCloseReason(error is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted
            ? ConnectionCloseReason.RemoteClosed
            : error == SocketError.OperationAborted ? ConnectionCloseReason.ServerShutdown : ConnectionCloseReason.SocketError);
}
