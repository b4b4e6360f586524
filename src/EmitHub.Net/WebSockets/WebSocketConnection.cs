using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Text;
using EmitHub.Core.Channels;
using EmitHub.Core.Fanout;
using EmitHub.Net.Transport;
using EmitHub.Net.WebSockets.Compression;
using Microsoft.Extensions.Logging;

namespace EmitHub.Net.WebSockets;

/// <summary>
/// One upgraded RFC 6455 connection, the I/O around two sans-I/O parts: a receive loop feeding
/// <see cref="WebSocketProtocolReader"/> (on plain TCP straight from the socket, see
/// <see cref="ReceiveSocketThenCloseAsync"/>; on TLS from the connection's input pipe), and a send loop draining <see cref="WebSocketOutbox"/> — everything queued
/// goes out in one gathered send straight from the shared frames (no per-connection copy). Keepalive (ping every
/// <c>ping_interval</c>, close 1001 after <c>pong_timeout</c>) and the close wait (<c>connection_timeout</c>) run on
/// the server's single heartbeat. The outbox is the channel subscriber: past <c>max_pending_bytes</c> it closes the
/// connection 1008 "slow consumer" without ever blocking a broadcaster (SPEC §3).
/// </summary>
public sealed class WebSocketConnection : IConnectionHeartbeatHandler
{
    /// <summary>How long a slow consumer gets to take its close frame before TCP is dropped: 2 s. A client that
    /// stopped reading will not read it, and its socket buffers must not be held for <c>connection_timeout</c>.</summary>
    private static readonly TimeSpan s_slowConsumerGrace = TimeSpan.FromSeconds(2);

    /// <summary>How long the peer gets to answer our close frame after a pong timeout: 1 s (it is already unresponsive).</summary>
    private static readonly TimeSpan s_pongTimeoutGrace = TimeSpan.FromSeconds(1);

    /// <summary>Close reason when a message is not finished within <c>connection_timeout</c> (1008).</summary>
    internal const string MessageDeadlineReason = "A message was not finished within connection_timeout.";

    /// <summary>Close reason when the server-wide <c>max_partial_message_bytes</c> evicts this connection (1009).</summary>
    internal const string PartialBudgetReason = "Unfinished messages are over max_partial_message_bytes; this connection held the most.";

    private readonly ConnectionContext _connection;
    private readonly WebSocketOutbox _outbox;
    private readonly WebSocketProtocolReader _reader;
    private readonly WebSocketSettings _settings;

    /// <summary>Tests: the settings this connection runs with.</summary>
    internal WebSocketSettings SettingsForTests => _settings;
    private readonly ILogger _logger;
    // Send-loop state. Between sends an idle connection references no frame and no buffer: the control buffer is
    // rented per send, and the gather list is the sending thread's (t_segments), not the connection's (issue 10).
    private readonly PerMessageDeflateSender? _deflate;
    private readonly List<OutboundMessage>? _ownedFrames; // frames this connection compressed itself (deflate only)
    private readonly ControlFrameWriter _control = new();

    // Created at the first unfinished message (most connections never send one), kept after.
    private PartialMessageBudget.Lease? _partialLease;

    // The gather list of the send being started on this thread: filled and handed to the transport synchronously
    // (ConnectionContext.SendAsync copies what it keeps across an await), then cleared, so it is never shared by two
    // sends and no connection holds one while idle.
    [ThreadStatic]
    private static List<ArraySegment<byte>>? t_segments;

    /// <summary>Most bytes taken from the socket per direct receive: 16 KiB, as the transport's receive loop.</summary>
    private const int ReceiveChunk = 16 * 1024;

    // Direct receive: bytes of a frame the reader could not consume yet (an incomplete header or control frame, at
    // most 14 + 4 + 125 bytes), rented when a read ends inside one and returned at the next read. Null when drained,
    // which is what an idle connection holds.
    private byte[]? _tail;
    private int _tailLength;

    /// <summary>Client messages held while the join catches up: at most 16. A client that chats during its own
    /// replay is rare; 16 covers a burst typed while the history loads.</summary>
    private const int MaxHeldTexts = 16;

    /// <summary>Bytes of client messages held while the join catches up: at most 64 KiB, so 10,000 replaying
    /// connections can park at most 640 MiB worst case — and in practice nothing.</summary>
    private const int MaxHeldTextBytes = 64 * 1024;

    /// <summary>Close reason (1008) when a client sends more than the held-message bounds during its catch-up.</summary>
    public const string HeldTextsExceededReason = "too many client messages during catch-up";

    // Guards the held texts and the subscription against the join: the monitor of _reader, a private object nobody
    // else locks (a lock object of its own would be 40 more bytes on every idle WebSocket; this is a cold path).
    private object TextGate => _reader;
    private Queue<string>? _heldTexts;
    private int _heldTextBytes;
    private bool _joined;
    private Subscription? _subscription;
    private Task _sending = Task.CompletedTask;
    private Task? _joining;
    // When the last send completed (Stopwatch timestamp): whether the next one is coalesced.
    private long _lastSendTimestamp;
    private int _sends;
    private bool _echo;

    // The message being received: which one (the reader's start count) and since when (a timestamp, 0 = none open).
    private long _partialMessageNumber;
    private long _partialSince;

    // Timing in TimeProvider timestamps; written by the loops and the heartbeat, read by the heartbeat.
    private long _lastPingTimestamp;
    private long _pongDeadline;
    private long _closeDeadline;
    private volatile bool _peerClosed;
    private volatile bool _aborted;
    private volatile bool _clientInitiatedClose;
    private volatile bool _protocolError;
    private volatile bool _pongTimedOut;
    private volatile bool _vanished;

    /// <summary>Creates the connection over a transport connection whose HTTP output has been completed.</summary>
    public WebSocketConnection(ConnectionContext connection, WebSocketSettings settings, ILogger logger)
    {
        _connection = connection;
        _settings = settings;
        _logger = logger;
        _outbox = new WebSocketOutbox(Guid.NewGuid(), settings.MaxPendingBytes);
        _reader = new WebSocketProtocolReader(settings.ReaderLimits);
        if (settings.Deflate is { } deflate)
        {
            _deflate = new PerMessageDeflateSender(deflate, settings.Compression);
            _ownedFrames = new List<OutboundMessage>();
        }
        _lastPingTimestamp = connection.Time.GetTimestamp();
    }

    /// <summary>What the channel registry enqueues into (the connection's <c>connection_id</c> is its id).</summary>
    public IChannelSubscriber Subscriber => _outbox;

    /// <summary>When set (a private channel's subscriber token expiry, plus the allowed clock skew), the heartbeat
    /// closes the connection with <see cref="WebSocketCloseCodes.TokenExpired"/> once the server's clock passes it;
    /// the client reconnects with a fresh token (and <c>?after=</c> to miss nothing).</summary>
    public DateTimeOffset? TokenExpiresAt { get; set; }

    /// <summary>When set (the client asked with <c>?keepalive=1</c>), every keepalive ping is accompanied by a text
    /// envelope <c>{"status":"keepalive", …, "data":{"ping_interval":s,"pong_timeout":s}}</c> for this channel: browser
    /// JavaScript cannot see pings, so this is how emithub.js tells a quiet channel from a dead link.</summary>
    public Guid? KeepaliveChannelId { get; set; }

    /// <summary>When set (the multiplexed socket, <c>/api/v1/ws</c>), client text messages go here instead of to a
    /// channel subscription: they are operations (subscribe, unsubscribe, publish).</summary>
    public Action<string>? TextHandler { get; set; }

    /// <summary>Test hook: frames and buffers the send side references right now (segments of the current send, the
    /// rented control buffer, frames compressed for it, frames queued). 0 for an idle connection.</summary>
    internal int HeldFramesForTests =>
        (_control.HoldsBuffer ? 1 : 0) + (_ownedFrames?.Count ?? 0) + _outbox.Queue.QueuedCount;

    /// <summary>This connection's send coalescer, or null: coalescing is off, or this is an echo connection, whose
    /// replies answer the peer one by one.</summary>
    private SendCoalescer? Coalescer => _echo ? null : _settings.Coalescer;

    /// <summary>Test hook: gathered sends made so far (each carries every frame queued when it started).</summary>
    internal int SendsForTests => Volatile.Read(ref _sends);

    /// <summary>Test hook: true while an unfinished frame's bytes are kept between direct reads.</summary>
    internal bool HoldsReceiveTailForTests => _tail is not null;

    /// <summary>The connection's outbox (what every subscription of a multiplexed socket enqueues into).</summary>
    internal WebSocketOutbox Outbox => _outbox;

    /// <summary>The close code sent or to be sent, 0 while open.</summary>
    public ushort CloseCode => _outbox.CloseCode;

    /// <summary>Why the connection ended (meaningful once <see cref="RunAsync"/> completed).</summary>
    public WebSocketCloseKind CloseKind =>
        _outbox.IsSlowConsumer ? WebSocketCloseKind.SlowConsumer
        : _protocolError ? WebSocketCloseKind.ProtocolError
        : _pongTimedOut ? WebSocketCloseKind.PongTimeout
        : _clientInitiatedClose ? WebSocketCloseKind.ClientClose
        : _vanished ? WebSocketCloseKind.Abnormal
        : _outbox.CloseCode switch
        {
            WebSocketCloseCodes.GoingAway => WebSocketCloseKind.GoingAway,
            WebSocketCloseCodes.PolicyViolation => WebSocketCloseKind.Denied,
            WebSocketCloseCodes.TryAgainLater => WebSocketCloseKind.ChannelFull,
            _ => WebSocketCloseKind.Other,
        };

    /// <summary>
    /// Runs the connection until it ends: as a channel subscriber (<paramref name="join"/> subscribes
    /// <see cref="Subscriber"/> and returns the subscription, or null when denied) or, with a null
    /// <paramref name="join"/>, as an echo endpoint. <paramref name="stopping"/> (server shutdown, signalled through <see cref="ConnectionContext.RequestStop"/>) closes it with
    /// 1001. Network failures are values, never exceptions out of here.
    /// </summary>
    public Task RunAsync(Func<IChannelSubscriber, ValueTask<Subscription?>>? join, CancellationToken stopping)
    {
        _settings.Counters?.OnOpened();
        _connection.SetHeartbeatHandler(this);
        // Server shutdown reaches us through OnStopRequested (no registration on the server's token per connection);
        // a stop that came before the handler was installed is seen here. The fence orders our handler write before
        // the flag read, against RequestStop's flag write before its handler read.
        Interlocked.MemoryBarrier();
        if (_connection.StopRequested || stopping.IsCancellationRequested)
        {
            OnStopRequested();
        }
        // Started inline: it parks at once on the empty outbox (its first step is an await), so no Task.Run wrapper.
        _echo = join is null;
        _sending = SendLoopAsync();
        // The join runs until its first real wait (a replay reading the store, or room in the outbox) and goes on
        // beside the receive loop, which handles pongs, the peer's close and pings during a long replay (client texts
        // wait for the join, see OnText). A failed join cancels the input, which ends the receive loop even if it has
        // not started yet (the cancel is sticky).
        if (join is not null)
        {
            _joining = JoinAsync(join);
        }
        // The receive loop's task is the connection's: the loop finishes the connection itself (FinishAsync), so no
        // method of ours stays parked awaiting it for the connection's whole life (issue 10: 184 bytes less per idle
        // WebSocket).
        return _connection.CanTakeOverReceive ? ReceiveSocketThenCloseAsync() : ReceiveThenCloseAsync();
    }

    private async Task JoinAsync(Func<IChannelSubscriber, ValueTask<Subscription?>> join)
    {
        Subscription? subscription = null;
        try
        {
            subscription = await join(_outbox).ConfigureAwait(false);
        }
        catch
        {
            // The join failed (the store): close at once rather than wait for the peer's close frame.
            _outbox.Close(WebSocketCloseCodes.GoingAway, "");
            _connection.CancelPendingInput();
            throw;
        }
        finally
        {
            OnJoined(subscription);
        }
    }

    /// <summary>After the receive loop ended: waits for the join and the send loop, releases what the connection held
    /// and records how it ended. A failed join's exception is rethrown last (the transport logs it).</summary>
    private async Task FinishAsync()
    {
        ExceptionDispatchInfo? joinFailure = null;
        if (_joining is { } joining)
        {
            try
            {
                await joining.ConfigureAwait(false);
            }
            catch (Exception e)
            {
                joinFailure = ExceptionDispatchInfo.Capture(e);
            }
            _joining = null;
        }
        try
        {
            lock (TextGate)
            {
                _subscription?.Dispose();
            }
            await _sending.ConfigureAwait(false);
        }
        finally
        {
            _outbox.Dispose();
            _partialLease?.Dispose();
            _reader.Dispose();
            _connection.SetHeartbeatHandler(null);
            if (_outbox.IsSlowConsumer)
            {
                _settings.Counters?.OnSlowConsumer();
                WebSocketLog.SlowConsumer(_logger, _outbox.ConnectionId, _settings.MaxPendingBytes);
            }
            _connection.TrySetCloseReason(_aborted || _outbox.IsSlowConsumer
                ? ConnectionCloseReason.UpgradedProtocolAborted
                : ConnectionCloseReason.UpgradedProtocolClosed);
            _settings.Counters?.OnClosed(CloseKind);
        }
        joinFailure?.Throw();
    }

    /// <summary>The receive loop; when it ends without a closing handshake the outbox is closed, so a join still
    /// replaying stops at once instead of waiting for room that a dead peer will never make.</summary>
    private async Task ReceiveThenCloseAsync()
    {
        // One method (not a wrapper around a separate loop): one parked state machine per idle connection, not two.
        try
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
                if (done)
                {
                    // After the peer's close or a protocol error nothing more is read (RFC 6455 §5.5.1, §7.1.7).
                    buffer = buffer.Slice(buffer.End);
                }
                input.AdvanceTo(buffer.Start, buffer.End);
                TrackPartialMessage();
                if (done || result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }
        finally
        {
            OnReceiveEnded();
            await FinishAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The receive loop on a plain TCP connection, reading the socket itself (issue 10): the transport's receive loop
    /// is stopped and its pipe released (<see cref="ConnectionContext.TakeOverReceiveAsync"/>); the bytes it had read
    /// after the request head are fed first. Then: a readiness wait (an idle connection holds no receive buffer), a
    /// receive into a 16 KiB array rented from the shared pool only for that read, the reader fed from it, and only
    /// the unfinished tail of a frame kept (<see cref="_tail"/>). <see cref="ConnectionContext.CancelPendingInput"/>
    /// ends it as <c>CancelPendingRead</c> ends the pipe loop; the peer's FIN and socket errors as the pipe's
    /// completion did.
    /// </summary>
    private async Task ReceiveSocketThenCloseAsync()
    {
        try
        {
            var (first, firstLength) = await _connection.TakeOverReceiveAsync().ConfigureAwait(false);
            if (first is not null)
            {
                var done = Feed(first, 0, firstLength);
                ArrayPool<byte>.Shared.Return(first);
                if (done)
                {
                    return;
                }
            }
            while (true)
            {
                if (!_connection.IsInputReady(await _connection.WaitForInputAsync().ConfigureAwait(false)))
                {
                    return;
                }
                var scratch = ArrayPool<byte>.Shared.Rent(_tailLength + ReceiveChunk);
                try
                {
                    // The unfinished frame goes in front of what arrives, so the reader sees contiguous bytes.
                    var offset = TakeTail(scratch);
                    var received = _connection.CountReceived(_connection.ReceiveDirect(scratch.AsSpan(offset)));
                    if (received < 0)
                    {
                        // Nothing there after all: the tail goes back (fed again with no new bytes) and we wait again.
                        if (Feed(scratch, offset, 0))
                        {
                            return;
                        }
                        continue;
                    }
                    if (received == 0 || Feed(scratch, offset, received))
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
        finally
        {
            ReturnTail();
            OnReceiveEnded();
            await FinishAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Feeds <paramref name="data"/>[0, <paramref name="offset"/> + <paramref name="count"/>) to the reader
    /// (the first <paramref name="offset"/> bytes are the previous tail), handles its events, keeps what it could not
    /// consume in <see cref="_tail"/>; true when the receive loop ends (the peer's close or a protocol error).</summary>
    private bool Feed(byte[] data, int offset, int count)
    {
        var buffer = new ReadOnlySequence<byte>(data, 0, offset + count);
        var done = false;
        while (!done && _reader.TryRead(ref buffer, out var readEvent))
        {
            done = OnEvent(readEvent);
        }
        // After the peer's close or a protocol error nothing more is read (RFC 6455 §5.5.1, §7.1.7).
        if (!done && !buffer.IsEmpty)
        {
            _tailLength = checked((int)buffer.Length);
            _tail = ArrayPool<byte>.Shared.Rent(_tailLength);
            buffer.CopyTo(_tail);
        }
        TrackPartialMessage();
        return done;
    }

    /// <summary>Copies the kept tail to the front of <paramref name="scratch"/>, returns it to the pool, and returns
    /// its length (0 when none).</summary>
    private int TakeTail(byte[] scratch)
    {
        if (_tail is not { } tail)
        {
            return 0;
        }
        var length = _tailLength;
        tail.AsSpan(0, length).CopyTo(scratch);
        ReturnTail();
        return length;
    }

    private void ReturnTail()
    {
        if (_tail is { } tail)
        {
            _tail = null;
            _tailLength = 0;
            ArrayPool<byte>.Shared.Return(tail);
        }
    }

    /// <summary>The receive loop ended: without a closing handshake the outbox is closed.</summary>
    private void OnReceiveEnded()
    {
        if (!_outbox.IsClosing)
        {
            // The peer vanished without a close frame (RFC 6455 §7.1.5, 1006): nothing more can be delivered.
            _aborted = true;
            _vanished = true;
            _outbox.Close(WebSocketCloseCodes.GoingAway, "");
        }
    }

    /// <summary>The join finished (<paramref name="subscription"/> null when denied or failed): client texts held
    /// during it are handed over in order, and later ones go straight to the subscription.</summary>
    private void OnJoined(Subscription? subscription)
    {
        lock (TextGate)
        {
            _subscription = subscription;
            _joined = true;
            if (_heldTexts is { } held)
            {
                while (held.TryDequeue(out var text))
                {
                    if (TextHandler is { } handler)
                    {
                        handler(text);
                    }
                    else
                    {
                        subscription?.OnClientText(text);
                    }
                }
                _heldTexts = null;
                _heldTextBytes = 0;
            }
        }
    }

    /// <summary>
    /// A client text message. While the join catches up, up to <see cref="MaxHeldTexts"/> messages and
    /// <see cref="MaxHeldTextBytes"/> bytes wait for it (then relayed in order); past that the connection is closed
    /// 1008, so a client cannot park unbounded memory behind a slow replay. Serialized with <see cref="OnJoined"/>
    /// so the subscription is driven by one thread at a time.
    /// </summary>
    private void OnText(ReadOnlySpan<byte> payload)
    {
        lock (TextGate)
        {
            if (_joined)
            {
                if (TextHandler is { } handler)
                {
                    handler(Encoding.UTF8.GetString(payload));
                }
                else
                {
                    _subscription?.OnClientText(Encoding.UTF8.GetString(payload));
                }
                return;
            }
            _heldTexts ??= new Queue<string>();
            if (_heldTexts.Count >= MaxHeldTexts || _heldTextBytes + payload.Length > MaxHeldTextBytes)
            {
                _outbox.Close(WebSocketCloseCodes.PolicyViolation, HeldTextsExceededReason);
                return;
            }
            _heldTexts.Enqueue(Encoding.UTF8.GetString(payload));
            _heldTextBytes += payload.Length;
        }
    }

    /// <summary>After each read: note when an unfinished message started (for its deadline) and report the bytes its
    /// buffer holds to the server-wide budget.</summary>
    private void TrackPartialMessage()
    {
        if (_reader.IsInsideMessage)
        {
            if (_partialMessageNumber != _reader.MessagesStarted)
            {
                _partialMessageNumber = _reader.MessagesStarted;
                Volatile.Write(ref _partialSince, _connection.Time.GetTimestamp());
            }
            _partialLease ??= _settings.PartialMessages?.CreateLease(() => FailPartialMessage(WebSocketCloseCodes.MessageTooBig, PartialBudgetReason));
            _partialLease?.Report(_reader.HeldBytes);
        }
        else
        {
            Volatile.Write(ref _partialSince, 0);
            _partialLease?.Report(0);
        }
    }

    /// <summary>
    /// Fails the connection for its unfinished message (heartbeat: not finished within <c>connection_timeout</c>;
    /// budget: the largest holder past <c>max_partial_message_bytes</c>): our close frame, then TCP is dropped without
    /// waiting for the peer (RFC 6455 §7.1.7), and the read loop stops at once so the message buffer goes back to the
    /// pool. Any thread; never blocks.
    /// </summary>
    private void FailPartialMessage(ushort code, string reason)
    {
        if (_outbox.IsClosing)
        {
            return;
        }
        WebSocketLog.ProtocolError(_logger, _outbox.ConnectionId, code, reason);
        _settings.Counters?.OnProtocolError();
        _peerClosed = true;
        _outbox.Close(code, reason);
        _connection.CancelPendingInput();
    }

    /// <summary>Handles one reader event; true when the receive loop ends.</summary>
    private bool OnEvent(in WebSocketReadEvent readEvent)
    {
        switch (readEvent.Kind)
        {
            case WebSocketEventKind.Text when !_outbox.IsClosing:
                if (_echo)
                {
                    Echo(readEvent.Payload.Span, WebSocketOpcode.Text);
                }
                else
                {
                    OnText(readEvent.Payload.Span);
                }
                return false;
            case WebSocketEventKind.Binary when _echo && !_outbox.IsClosing:
                Echo(readEvent.Payload.Span, WebSocketOpcode.Binary);
                return false;
            case WebSocketEventKind.Ping:
                _outbox.OnPing(readEvent.Payload.Span);
                return false;
            case WebSocketEventKind.Pong:
                Volatile.Write(ref _pongDeadline, 0);
                return false;
            case WebSocketEventKind.Close:
                // Echo the peer's code (RFC 6455 §5.5.1); 1005 (none given) is answered with an empty close.
                _peerClosed = true;
                _clientInitiatedClose = !_outbox.IsClosing;
                _outbox.Close(readEvent.CloseCode, "");
                return true;
            case WebSocketEventKind.ProtocolError:
                // Fail the connection (RFC 6455 §7.1.7): our close frame, then TCP is dropped without waiting.
                _settings.Counters?.OnProtocolError();
                _protocolError = true;
                WebSocketLog.ProtocolError(_logger, _outbox.ConnectionId, readEvent.CloseCode, readEvent.ErrorReason);
                _peerClosed = true;
                _outbox.Close(readEvent.CloseCode, readEvent.ErrorReason);
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
        _outbox.TryEnqueue(message);
        message.Release();
    }

    private async Task SendLoopAsync()
    {
        try
        {
            while (await _outbox.WaitAsync().ConfigureAwait(false))
            {
                if (_aborted)
                {
                    return;
                }
                if (Coalescer is { } coalescer && coalescer.ShouldCork(_lastSendTimestamp))
                {
                    // Sent less than a window ago: wait for the coalescer's next tick, so what arrives meanwhile joins
                    // this send. Armed before registering, so the tick that uncorks it cannot come first.
                    var corked = _outbox.Queue.WaitCorkedAsync();
                    coalescer.Register(_outbox.Queue);
                    await corked.ConfigureAwait(false);
                    if (_aborted)
                    {
                        return;
                    }
                }
                else
                {
                    // Let the broadcasts that follow join this send: one turn at the back of the thread pool, more
                    // while it is busy (SendDeferral).
                    var turns = 0;
                    do
                    {
                        await Task.Yield();
                    }
                    while (SendDeferral.AnotherTurn(++turns));
                }
                _outbox.WriteControlFrames(_control);
                if (!await SendAsync(drain: true).ConfigureAwait(false))
                {
                    return;
                }
            }
            if (_aborted)
            {
                return;
            }
            _outbox.WriteControlFrames(_control);
            _outbox.TryWriteCloseFrame(_control);
            await SendAsync(drain: false).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
        }
        finally
        {
            _control.Reset();
            _outbox.ReleaseSent();
            ReleaseOwnedFrames();
            _deflate?.Dispose();
            if (_peerClosed || _aborted)
            {
                // Both close frames are out (or the connection failed): the server closes TCP first (RFC 6455 §7.1.1).
                _connection.CancelPendingInput();
            }
        }
    }

    /// <summary>One gathered send of the control frames written to <see cref="_control"/> and, with
    /// <paramref name="drain"/>, every queued frame. Once it completed nothing of it stays referenced: the segments are
    /// cleared, the control buffer goes back to the pool and the frames are released.</summary>
    private async ValueTask<bool> SendAsync(bool drain)
    {
        var segments = t_segments ??= new List<ArraySegment<byte>>();
        ValueTask<SocketError> sending;
        try
        {
            if (_control.WrittenCount > 0)
            {
                segments.Add(_control.WrittenSegment);
            }
            if (drain)
            {
                foreach (var message in _outbox.DrainInFlight())
                {
                    AddSegment(segments, _deflate is null ? message!.Frame : _deflate.Select(message!, _ownedFrames!));
                }
            }
            if (segments.Count == 0)
            {
                _control.Reset();
                return true;
            }
            sending = _connection.SendAsync(segments);
        }
        finally
        {
            segments.Clear();
        }
        var error = await sending.ConfigureAwait(false);
        if (Coalescer is not null)
        {
            _lastSendTimestamp = Stopwatch.GetTimestamp();
        }
        _sends++;
        _control.Reset();
        _outbox.ReleaseSent();
        ReleaseOwnedFrames();
        if (error != SocketError.Success)
        {
            _aborted = true;
            return false;
        }
        return true;
    }

    private void ReleaseOwnedFrames()
    {
        if (_ownedFrames is null)
        {
            return;
        }
        foreach (var frame in _ownedFrames)
        {
            frame.Release();
        }
        _ownedFrames.Clear();
    }

    private static void AddSegment(List<ArraySegment<byte>> segments, ReadOnlyMemory<byte> memory)
    {
        if (!MemoryMarshal.TryGetArray(memory, out var segment))
        {
            throw new InvalidOperationException("Outbound frames must be array-backed.");
        }
        segments.Add(segment);
    }

    /// <summary>Server shutdown (<see cref="ConnectionContext.RequestStop"/>): close 1001 "Server shutting down".</summary>
    public void OnStopRequested() => _outbox.Close(WebSocketCloseCodes.GoingAway, "Server shutting down");

    /// <summary>Heartbeat (about once a second): keepalive ping, pong timeout, close wait.</summary>
    public void OnHeartbeat(DateTimeOffset now)
    {
        var time = _connection.Time;
        var timestamp = time.GetTimestamp();
        if (_outbox.IsClosing)
        {
            var deadline = Volatile.Read(ref _closeDeadline);
            if (deadline == 0)
            {
                var grace = _outbox.IsSlowConsumer ? s_slowConsumerGrace : _settings.CloseTimeout;
                Volatile.Write(ref _closeDeadline, timestamp + ToTicks(grace));
            }
            else if (timestamp >= deadline)
            {
                // The peer did not finish the closing handshake in time, or a slow consumer never took its close
                // frame: drop the TCP connection.
                _aborted = true;
                _connection.Abort(ConnectionCloseReason.UpgradedProtocolAborted);
            }
            return;
        }
        if (TokenExpiresAt is { } expiresAt && now >= expiresAt)
        {
            WebSocketLog.TokenExpired(_logger, _outbox.ConnectionId);
            _outbox.Close(WebSocketCloseCodes.TokenExpired, "token expired");
            return;
        }
        var pongDeadline = Volatile.Read(ref _pongDeadline);
        if (pongDeadline != 0 && timestamp >= pongDeadline)
        {
            WebSocketLog.PongTimeout(_logger, _outbox.ConnectionId);
            _pongTimedOut = true;
            Volatile.Write(ref _closeDeadline, timestamp + ToTicks(s_pongTimeoutGrace));
            _outbox.Close(WebSocketCloseCodes.GoingAway, "pong timeout");
            return;
        }
        var interval = ToTicks(_settings.PingInterval);
        var lastDue = Volatile.Read(ref _lastPingTimestamp);
        if (pongDeadline == 0 && timestamp - lastDue >= interval)
        {
            // _lastPingTimestamp is when the ping fell due, not this tick (which comes up to a second late): pings stay
            // ping_interval apart on average. After a pause of two intervals or more (a pong wait longer than the
            // interval) the schedule restarts from now instead of catching up with a burst.
            var due = lastDue + interval;
            Volatile.Write(ref _lastPingTimestamp, timestamp - due >= interval ? timestamp : due);
            Volatile.Write(ref _pongDeadline, timestamp + ToTicks(_settings.PongTimeout));
            Span<byte> payload = stackalloc byte[8];
            System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(payload, timestamp);
            _outbox.SendPing(payload);
            if (KeepaliveChannelId is { } channelId)
            {
                SendKeepaliveEnvelope(channelId, now);
            }
        }
        // After the ping, so that a ping due on the tick that fails the message still goes out (ahead of the close).
        var partialSince = Volatile.Read(ref _partialSince);
        if (partialSince != 0 && timestamp - partialSince >= ToTicks(_settings.CloseTimeout))
        {
            // A message started and never finished (a first fragment, then only pongs): its buffer is not held forever.
            FailPartialMessage(WebSocketCloseCodes.PolicyViolation, MessageDeadlineReason);
        }
    }

    private void SendKeepaliveEnvelope(Guid channelId, DateTimeOffset now)
    {
        var json = new ArrayBufferWriter<byte>(256);
        using (var writer = new System.Text.Json.Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            writer.WriteString("status"u8, "keepalive"u8);
            writer.WriteString("message"u8, ""u8);
            writer.WriteString("channel_id"u8, channelId);
            writer.WriteString("timestamp"u8, Rfc3339.ToString(now));
            writer.WriteStartObject("data"u8);
            writer.WriteNumber("ping_interval"u8, (long)_settings.PingInterval.TotalSeconds);
            writer.WriteNumber("pong_timeout"u8, (long)_settings.PongTimeout.TotalSeconds);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        Echo(json.WrittenSpan, WebSocketOpcode.Text);
    }

    private long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * _connection.Time.TimestampFrequency);
}
