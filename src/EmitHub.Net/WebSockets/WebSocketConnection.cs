using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using EmitHub.Core.Channels;
using EmitHub.Core.Fanout;
using EmitHub.Net.Transport;
using Microsoft.Extensions.Logging;

namespace EmitHub.Net.WebSockets;

/// <summary>
/// One upgraded RFC 6455 connection: a receive loop feeding the sans-I/O <see cref="WebSocketProtocolReader"/>, a
/// send loop that writes everything queued in one gathered send straight from the shared frames, and keepalive
/// and close timing from the server's single heartbeat. As an <see cref="IChannelSubscriber"/> it never blocks the
/// broadcaster: past <c>max_pending_bytes</c> it closes itself with 1008 "slow consumer" (SPEC §3).
/// </summary>
public sealed partial class WebSocketConnection : IChannelSubscriber, IConnectionHeartbeatHandler
{
    /// <summary>How long a slow consumer gets to take its close frame before the TCP connection is dropped: 2 s.
    /// A client that stopped reading will not read it, and its socket must not hold memory for connection_timeout.</summary>
    private static readonly TimeSpan s_slowConsumerGrace = TimeSpan.FromSeconds(2);

    private readonly ConnectionContext _connection;
    private readonly OutboundQueue _queue;
    private readonly PendingPong _pendingPong = new();
    private readonly WebSocketProtocolReader _reader;
    private readonly WebSocketSettings _settings;
    private readonly ILogger _logger;
    private readonly List<ReadOnlyMemory<byte>> _drained = new();
    private readonly List<ArraySegment<byte>> _segments = new();
    private readonly ArrayBufferWriter<byte> _control = new(2 * WebSocketFrameEncoder.MaxControlFrameLength);

    private Subscription? _subscription;
    private bool _echo;

    // Keepalive and close timing, in TimeProvider ticks; written by the loops, read by the heartbeat.
    private long _lastPingTicks;
    private long _pongDeadlineTicks;
    private long _closeDeadlineTicks;

    // Close state: the first requested close code wins; the send loop writes it once the queue is drained.
    private int _closeRequested;
    private ushort _closeCode;
    private string _closeReason = "";
    private volatile bool _closeSent;
    private volatile bool _peerClosed;
    private volatile bool _abortSending;

    /// <summary>Creates the connection over an upgraded transport connection whose output has been completed.</summary>
    public WebSocketConnection(ConnectionContext connection, WebSocketSettings settings, ILogger logger)
    {
        _connection = connection;
        _settings = settings;
        _logger = logger;
        _queue = new OutboundQueue(settings.MaxPendingBytes);
        _reader = new WebSocketProtocolReader(settings.ReaderLimits);
        _lastPingTicks = connection.Time.GetTimestamp();
    }

    /// <summary>The <c>connection_id</c> of the envelopes.</summary>
    public Guid ConnectionId { get; } = Guid.NewGuid();

    /// <summary>The close code this side sent or will send, 0 while open.</summary>
    public ushort CloseCode => _closeCode;

    /// <summary>True when this connection was closed as a slow consumer.</summary>
    public bool WasSlowConsumer { get; private set; }

    /// <inheritdoc />
    public bool TryEnqueue(OutboundMessage message)
    {
        switch (_queue.TryEnqueue(message))
        {
            case EnqueueResult.Accepted:
                return true;
            case EnqueueResult.OverLimit:
                WasSlowConsumer = true;
                _settings.Counters?.OnSlowConsumer();
                WebSocketLog.SlowConsumer(_logger, ConnectionId, _queue.MaxPendingBytes);
                RequestClose(WebSocketCloseCodes.PolicyViolation, "slow consumer", s_slowConsumerGrace);
                return false;
            default:
                return false;
        }
    }

    /// <inheritdoc />
    public void Close(ushort closeCode, string reason) => RequestClose(closeCode, reason, _settings.CloseTimeout);

    /// <summary>
    /// Runs the connection until it ends: as a channel subscriber (<paramref name="join"/> subscribes it and returns
    /// the subscription, or null when it was denied) or, when <paramref name="join"/> is null, as an echo endpoint.
    /// <paramref name="stopping"/> (server shutdown) closes it with 1001. Never throws for network failures.
    /// </summary>
    public async Task RunAsync(Func<WebSocketConnection, ValueTask<Subscription?>>? join, CancellationToken stopping)
    {
        _connection.SetHeartbeatHandler(this);
        var sending = SendLoopAsync();
        using var stopRegistration = stopping.Register(static s => ((WebSocketConnection)s!).Close(WebSocketCloseCodes.GoingAway, "Server shutting down"), this);
        try
        {
            if (join is null)
            {
                _echo = true;
            }
            else
            {
                _subscription = await join(this).ConfigureAwait(false);
            }
            await ReceiveLoopAsync().ConfigureAwait(false);
        }
        finally
        {
            _subscription?.Dispose();
            if (Volatile.Read(ref _closeRequested) == 0)
            {
                // The peer vanished without a close frame (RFC 6455 §7.1.5: 1006); nothing more can be sent.
                _abortSending = true;
                _queue.Complete();
            }
            await sending.ConfigureAwait(false);
            _queue.Dispose();
            _reader.Dispose();
            _connection.SetHeartbeatHandler(null);
            _connection.TrySetCloseReason(_closeCode is WebSocketCloseCodes.NormalClosure or WebSocketCloseCodes.GoingAway or 0 && !WasSlowConsumer
                ? ConnectionCloseReason.UpgradedProtocolClosed
                : ConnectionCloseReason.UpgradedProtocolAborted);
        }
    }

    private void RequestClose(ushort closeCode, string reason, TimeSpan timeout)
    {
        if (Interlocked.CompareExchange(ref _closeRequested, 1, 0) != 0)
        {
            return;
        }
        _closeCode = closeCode;
        _closeReason = reason;
        Volatile.Write(ref _closeDeadlineTicks, _connection.Time.GetTimestamp() + ToTicks(timeout));
        _queue.Complete();
    }

    private async Task ReceiveLoopAsync()
    {
        var input = _connection.Input;
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidOperationException or OperationCanceledException)
            {
                return;
            }
            var buffer = result.Buffer;
            var done = false;
            while (!done && _reader.TryRead(ref buffer, out var readEvent))
            {
                done = OnEvent(readEvent);
            }
            if (_reader.IsFinished && !_peerClosed)
            {
                // After a protocol error nothing the peer sends can be trusted; discard it until the close completes.
                buffer = buffer.Slice(buffer.End);
            }
            input.AdvanceTo(buffer.Start, buffer.End);
            if (done || result.IsCompleted || result.IsCanceled)
            {
                return;
            }
        }
    }

    /// <summary>Handles one reader event; returns true when the receive loop should end.</summary>
    private bool OnEvent(in WebSocketReadEvent readEvent)
    {
        switch (readEvent.Kind)
        {
            case WebSocketEventKind.Text:
                if (Volatile.Read(ref _closeRequested) != 0)
                {
                    return false;
                }
                if (_echo)
                {
                    Echo(readEvent.Payload.Span, WebSocketOpcode.Text);
                }
                else
                {
                    _subscription?.OnClientText(Encoding.UTF8.GetString(readEvent.Payload.Span));
                }
                return false;
            case WebSocketEventKind.Ping:
                if (_pendingPong.OnPing(readEvent.Payload.Span))
                {
                    _queue.Wake();
                }
                return false;
            case WebSocketEventKind.Pong:
                Volatile.Write(ref _pongDeadlineTicks, 0);
                return false;
            case WebSocketEventKind.Close:
                _peerClosed = true;
                // Echo the peer's code (RFC 6455 §5.5.1); a close without a code is answered without one.
                RequestClose(readEvent.CloseCode == WebSocketCloseCodes.NoStatusReceived ? (ushort)0 : readEvent.CloseCode, "", _settings.CloseTimeout);
                return true;
            case WebSocketEventKind.ProtocolError:
                // Fail the connection (RFC 6455 §7.1.7): send the close frame, then drop TCP without waiting.
                _settings.Counters?.OnProtocolError();
                WebSocketLog.ProtocolError(_logger, ConnectionId, readEvent.CloseCode, readEvent.ErrorReason);
                RequestClose(readEvent.CloseCode, readEvent.ErrorReason, _settings.CloseTimeout);
                return true;
            default:
                return false;
        }
    }

    private void Echo(ReadOnlySpan<byte> payload, WebSocketOpcode opcode)
    {
        var headerLength = WebSocketFrameEncoder.GetHeaderLength(payload.Length);
        var buffer = ArrayPool<byte>.Shared.Rent(headerLength + payload.Length);
        WebSocketFrameEncoder.WriteHeader(buffer, opcode, payload.Length);
        payload.CopyTo(buffer.AsSpan(headerLength));
        var message = OutboundMessage.FromRented(buffer, 0, headerLength + payload.Length);
        TryEnqueue(message);
        message.Release();
    }

    private async Task SendLoopAsync()
    {
        try
        {
            while (await _queue.WaitAsync().ConfigureAwait(false))
            {
                if (_abortSending)
                {
                    return;
                }
                _queue.Drain(_drained);
                if (!await SendBatchAsync().ConfigureAwait(false))
                {
                    return;
                }
            }
            // Completed and drained: the pong still due, then our close frame (once).
            if (!_abortSending && await SendBatchAsync().ConfigureAwait(false))
            {
                await SendCloseFrameAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
        }
        finally
        {
            _queue.ReleaseSent();
            if (_peerClosed)
            {
                // Both close frames are out: the server closes the TCP connection first (RFC 6455 §7.1.1).
                _connection.Input.CancelPendingRead();
            }
        }
    }

    /// <summary>Sends the pong due (if any) followed by the drained frames in one gathered send.</summary>
    private async ValueTask<bool> SendBatchAsync()
    {
        _segments.Clear();
        _control.ResetWrittenCount();
        if (_pendingPong.TryWritePong(_control))
        {
            AddSegment(_control.WrittenMemory);
        }
        foreach (var frame in _drained)
        {
            AddSegment(frame);
        }
        _drained.Clear();
        if (_segments.Count == 0)
        {
            return true;
        }
        var error = await _connection.SendAsync(_segments).ConfigureAwait(false);
        _queue.ReleaseSent();
        if (error != SocketError.Success)
        {
            _abortSending = true;
            _connection.Input.CancelPendingRead();
            return false;
        }
        return true;
    }

    private async ValueTask SendCloseFrameAsync()
    {
        if (Volatile.Read(ref _closeRequested) == 0 || _closeSent)
        {
            return;
        }
        _control.ResetWrittenCount();
        if (_closeCode == 0)
        {
            // RFC 6455 §5.5.1: a close frame may have no body; used to answer a close that carried none.
            var span = _control.GetSpan(2);
            span[0] = 0x88;
            span[1] = 0;
            _control.Advance(2);
        }
        else
        {
            WebSocketFrameEncoder.WriteClose(_control, _closeCode, _closeReason);
        }
        _segments.Clear();
        AddSegment(_control.WrittenMemory);
        var error = await _connection.SendAsync(_segments).ConfigureAwait(false);
        _closeSent = true;
        if (error != SocketError.Success || _peerClosed)
        {
            _connection.Input.CancelPendingRead();
        }
    }

    private void AddSegment(ReadOnlyMemory<byte> memory)
    {
        if (!MemoryMarshal.TryGetArray(memory, out var segment))
        {
            throw new InvalidOperationException("Outbound frames must be array-backed.");
        }
        _segments.Add(segment);
    }

    /// <summary>Heartbeat (about once a second): ping on schedule, enforce the pong timeout and the close wait.</summary>
    public void OnHeartbeat(DateTimeOffset now)
    {
        var time = _connection.Time;
        var ticks = time.GetTimestamp();
        var closeDeadline = Volatile.Read(ref _closeDeadlineTicks);
        if (closeDeadline != 0)
        {
            if (ticks >= closeDeadline)
            {
                // The peer did not finish the closing handshake in time (connection_timeout), or a slow consumer
                // did not take its close frame: drop the TCP connection.
                _abortSending = true;
                _connection.Abort(ConnectionCloseReason.UpgradedProtocolAborted);
            }
            return;
        }
        var pongDeadline = Volatile.Read(ref _pongDeadlineTicks);
        if (pongDeadline != 0 && ticks >= pongDeadline)
        {
            WebSocketLog.PongTimeout(_logger, ConnectionId);
            RequestClose(WebSocketCloseCodes.GoingAway, "pong timeout", TimeSpan.FromSeconds(1));
            return;
        }
        if (pongDeadline == 0 && ticks - Volatile.Read(ref _lastPingTicks) >= ToTicks(_settings.PingInterval))
        {
            Volatile.Write(ref _lastPingTicks, ticks);
            Volatile.Write(ref _pongDeadlineTicks, ticks + ToTicks(_settings.PongTimeout));
            var ping = CreatePing(ticks);
            TryEnqueue(ping);
            ping.Release();
        }
    }

    /// <summary>A ping whose 8-byte payload is the send timestamp (RFC 6455 §5.5.2).</summary>
    private static OutboundMessage CreatePing(long timestamp)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(10);
        buffer[0] = 0x89; // FIN=1 PING
        buffer[1] = 8;
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(buffer.AsSpan(2), timestamp);
        return OutboundMessage.FromRented(buffer, 0, 10);
    }

    private long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * _connection.Time.TimestampFrequency);
}
