using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using EmitHub.Core.Channels;
using EmitHub.Core.Fanout;
using EmitHub.Net.Transport;
using EmitHub.Net.WebSockets;
using Microsoft.Extensions.Logging;

namespace EmitHub.Net.ServerSentEvents;

/// <summary>
/// One <c>text/event-stream</c> response held open as a channel subscriber. It is the SSE twin of the WebSocket
/// connection and shares its <see cref="SubscriberOutbox"/>: a bounded queue (<c>max_pending_bytes</c>; past it the
/// stream ends as a slow consumer, never delaying a broadcaster), one gathered send of every queued event, each
/// event shared by all SSE subscribers (<see cref="ServerSentEventFormatter"/>), a heartbeat comment every
/// <c>ping_interval</c> seconds of silence. Where a WebSocket gets a close frame the stream simply ends after what
/// was queued (the last event says why: <c>denied</c>, <c>stopped</c>). The client's side of the socket is only
/// watched for its end.
/// </summary>
public sealed class ServerSentEventsConnection : IConnectionHeartbeatHandler
{
    /// <summary>How long a stream being ended may take to drain before TCP is dropped: 2 s (a slow consumer will not read).</summary>
    private static readonly TimeSpan s_closeGrace = TimeSpan.FromSeconds(2);

    private static readonly byte[] s_heartbeat = ServerSentEventFormatter.Heartbeat.ToArray();

    private readonly ConnectionContext _connection;
    private readonly SubscriberOutbox _outbox;
    private readonly TimeSpan _heartbeatInterval;
    private readonly ILogger _logger;
    private readonly List<ArraySegment<byte>> _segments = new();
    private int _heartbeatDue;
    private long _lastSendTimestamp;
    private long _closeDeadline;
    private volatile bool _aborted;

    /// <summary>Creates the stream over a connection whose HTTP response head has been sent.</summary>
    public ServerSentEventsConnection(ConnectionContext connection, long maxPendingBytes, TimeSpan heartbeatInterval, ILogger logger)
    {
        _connection = connection;
        _outbox = new SubscriberOutbox(Guid.NewGuid(), maxPendingBytes);
        _heartbeatInterval = heartbeatInterval;
        _logger = logger;
        _lastSendTimestamp = connection.Time.GetTimestamp();
    }

    /// <summary>When set (a private channel's token expiry plus clock skew) the stream ends once the clock passes it.</summary>
    public DateTimeOffset? TokenExpiresAt { get; set; }

    /// <summary>True when the stream was ended as a slow consumer.</summary>
    public bool IsSlowConsumer => _outbox.IsSlowConsumer;

    /// <summary>The close code Core asked for (1001 stopped, 1008 not active or slow consumer, 1013 full), 0 while open;
    /// kept for diagnostics (the WebSocket close code the same event would carry).</summary>
    public ushort CloseCode => _outbox.CloseCode;

    /// <summary>Ends the stream after what is queued. Idempotent; the first call wins.</summary>
    public void Close(ushort closeCode, string reason) => _outbox.Close(closeCode, reason);

    /// <summary>
    /// Streams until the channel ends the subscription, the client goes away, or the server stops.
    /// <paramref name="join"/> subscribes this connection and returns the subscription (null when denied).
    /// </summary>
    public async Task RunAsync(Func<IChannelSubscriber, ValueTask<Subscription?>> join, CancellationToken stopping)
    {
        _connection.SetHeartbeatHandler(this);
        var sending = Task.Run(SendLoopAsync, CancellationToken.None);
        using var stopRegistration = stopping.Register(static s => ((ServerSentEventsConnection)s!).Close(1001, "Server shutting down"), this);
        Subscription? subscription = null;
        try
        {
            subscription = await join(_outbox).ConfigureAwait(false);
            await WatchClientAsync().ConfigureAwait(false);
        }
        finally
        {
            subscription?.Dispose();
            if (!_outbox.IsClosing)
            {
                _aborted = true;
                Close(1001, "");
            }
            await sending.ConfigureAwait(false);
            _outbox.Dispose();
            _connection.SetHeartbeatHandler(null);
            if (IsSlowConsumer)
            {
                ServerSentEventsLog.SlowConsumer(_logger, _outbox.ConnectionId, _outbox.Queue.MaxPendingBytes);
            }
            _connection.TrySetCloseReason(_aborted || IsSlowConsumer
                ? ConnectionCloseReason.UpgradedProtocolAborted
                : ConnectionCloseReason.UpgradedProtocolClosed);
        }
    }

    // The client sends nothing after its request; reading only tells us when it hangs up. Bytes it sends anyway are
    // dropped as they come, so they never pile up.
    private async Task WatchClientAsync()
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
            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return;
            }
        }
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
                // Let the broadcasts that follow join this send: one turn at the back of the thread pool, more while it
                // is busy (SendDeferral).
                var turns = 0;
                do
                {
                    await Task.Yield();
                }
                while (SendDeferral.AnotherTurn(++turns));
                if (!await SendAsync().ConfigureAwait(false))
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
        }
        finally
        {
            _outbox.ReleaseSent();
            // Everything queued is out (or the client is gone): end the response; the server closes TCP.
            _connection.Input.CancelPendingRead();
        }
    }

    private async ValueTask<bool> SendAsync()
    {
        _segments.Clear();
        if (Interlocked.Exchange(ref _heartbeatDue, 0) != 0)
        {
            _segments.Add(new ArraySegment<byte>(s_heartbeat));
        }
        foreach (var message in _outbox.DrainInFlight())
        {
            var sse = message!.GetVariant(OutboundVariantSlots.ServerSentEvent, 0, static (m, _) => ServerSentEventFormatter.Format(m));
            if (!MemoryMarshal.TryGetArray(sse.Frame, out var segment))
            {
                throw new InvalidOperationException("Outbound events must be array-backed.");
            }
            _segments.Add(segment);
        }
        if (_segments.Count == 0)
        {
            return true;
        }
        var error = await _connection.SendAsync(_segments).ConfigureAwait(false);
        _outbox.ReleaseSent();
        Volatile.Write(ref _lastSendTimestamp, _connection.Time.GetTimestamp());
        if (error != SocketError.Success)
        {
            _aborted = true;
            return false;
        }
        return true;
    }

    /// <summary>Heartbeat (about once a second): the keepalive comment, token expiry, and the drain deadline of an ending stream.</summary>
    public void OnHeartbeat(DateTimeOffset now)
    {
        var time = _connection.Time;
        var timestamp = time.GetTimestamp();
        if (_outbox.IsClosing)
        {
            var deadline = Volatile.Read(ref _closeDeadline);
            if (deadline == 0)
            {
                Volatile.Write(ref _closeDeadline, timestamp + (long)(s_closeGrace.TotalSeconds * time.TimestampFrequency));
            }
            else if (timestamp >= deadline)
            {
                _aborted = true;
                _connection.Abort(ConnectionCloseReason.UpgradedProtocolAborted);
            }
            return;
        }
        if (TokenExpiresAt is { } expiresAt && now >= expiresAt)
        {
            Close(4001, "Subscriber token expired");
            return;
        }
        if (timestamp - Volatile.Read(ref _lastSendTimestamp) >= (long)(_heartbeatInterval.TotalSeconds * time.TimestampFrequency))
        {
            Volatile.Write(ref _lastSendTimestamp, timestamp);
            Interlocked.Exchange(ref _heartbeatDue, 1);
            _outbox.Queue.Wake();
        }
    }
}
