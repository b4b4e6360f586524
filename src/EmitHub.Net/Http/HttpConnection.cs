using System.Buffers;
using System.IO.Pipelines;
using EmitHub.Net.Transport;
using Microsoft.Extensions.Logging;

namespace EmitHub.Net.Http;

/// <summary>Shared, per-server settings of every <see cref="HttpConnection"/>.</summary>
/// <param name="Limits">Fixed limits and timeouts.</param>
/// <param name="MessageSizeLimit">Reads the live <c>message_size_limit</c> (hot reload) for each request.</param>
/// <param name="Heartbeat">Source of the cached Date and of the time.</param>
/// <param name="Application">The router.</param>
/// <param name="Logger">HTTP logger.</param>
internal sealed record HttpServerContext(HttpLimits Limits, Func<long> MessageSizeLimit, Heartbeat Heartbeat, IHttpApplication Application, ILogger Logger);

/// <summary>
/// HTTP/1.1 over one <see cref="ConnectionContext"/> (RFC 9112): reads heads and bodies with the I/O-free parser,
/// answers each request in order (pipelining), keeps the connection alive when allowed, and closes after any
/// framing error so nothing can be smuggled. Its heartbeat handler enforces the timeouts of SPEC §4/§6 by
/// cancelling the pending read; the loop then answers 408 or closes silently.
/// </summary>
internal sealed class HttpConnection : IConnectionHeartbeatHandler
{
    private enum TimeoutKind
    {
        None,
        InitialSilence,
        KeepAlive,
        RequestHead,
        RequestBody,
    }

    private readonly ConnectionContext _connection;
    private readonly HttpServerContext _server;
    private readonly HttpRequestHead _head = new();
    private readonly HttpResponse _response = new();
    private readonly ChunkedBodyDecoder _chunked = new();
    private readonly HttpRequestContext _context;
    private readonly Lock _timeoutLock = new();
    private ArrayBufferWriter<byte> _body = new();
    private long _deadlineTicks = long.MaxValue;
    private TimeoutKind _armedKind;
    private TimeoutKind _firedKind;
    private bool _requestStarted;
    private bool _pendingFlush;
    private volatile bool _stopping;

    public HttpConnection(ConnectionContext connection, HttpServerContext server)
    {
        _connection = connection;
        _server = server;
        _context = new HttpRequestContext(_head, _response, connection);
    }

    public ConnectionContext Connection => _connection;

    /// <summary>True once the connection was handed to an upgraded protocol.</summary>
    public bool Upgraded { get; private set; }

    /// <summary>Asks the connection to end: idle ones close now, one answering a request closes after it.</summary>
    public void BeginStop()
    {
        _stopping = true;
        _connection.Input.CancelPendingRead();
    }

    public async Task RunAsync(CancellationToken serverStopping)
    {
        _connection.SetHeartbeatHandler(this);
        Arm(TimeoutKind.InitialSilence, _server.Limits.InitialSilenceTimeout);
        try
        {
            while (true)
            {
                var maxBody = _server.Limits.MaxBodyLength(_server.MessageSizeLimit());
                if (!await ReadHeadAsync(maxBody).ConfigureAwait(false))
                {
                    await FlushAsync().ConfigureAwait(false);
                    return;
                }
                _context.Body = ReadOnlyMemory<byte>.Empty;
                if (_head.HasBody)
                {
                    if (_head.GetField("Expect") is { } expect && expect.Equals("100-continue", StringComparison.OrdinalIgnoreCase))
                    {
                        _connection.Output.Write("HTTP/1.1 100 Continue\r\n\r\n"u8);
                        _pendingFlush = true;
                        await FlushAsync().ConfigureAwait(false);
                    }
                    if (!await ReadBodyAsync(maxBody).ConfigureAwait(false))
                    {
                        return;
                    }
                    _context.Body = _body.WrittenMemory;
                }
                Disarm();

                _response.Reset();
                _context.UpgradeTo = null;
                try
                {
                    await _server.Application.HandleAsync(_context, serverStopping).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !serverStopping.IsCancellationRequested)
                {
                    HttpLog.HandlerFailed(_server.Logger, _connection.Id, _head.Method, _head.Path, e);
                    _context.UpgradeTo = null;
                    _response.Reset();
                    _response.WriteError(500, "internal_error", "The server failed to answer this request.");
                }

                if (_context.UpgradeTo is { } upgrade)
                {
                    await FlushAsync().ConfigureAwait(false);
                    Upgraded = true;
                    _connection.SetHeartbeatHandler(null);
                    try
                    {
                        await upgrade.RunAsync(_head, _connection, serverStopping).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (serverStopping.IsCancellationRequested)
                    {
                        _connection.TrySetCloseReason(ConnectionCloseReason.ServerShutdown);
                    }
                    _connection.TrySetCloseReason(ConnectionCloseReason.UpgradedProtocolClosed);
                    return;
                }

                var close = !_head.KeepAlive || _response.CloseConnection || _stopping;
                ResponseWriter.Write(_connection.Output, _response, _server.Heartbeat.DateFieldLine, close,
                    http10KeepAlive: !close && _head.Version == HttpVersion.Http10, omitBody: _head.Method == "HEAD");
                HttpLog.RequestCompleted(_server.Logger, _connection.Id, _head.Method, _head.Path, _response.StatusCode);
                _pendingFlush = true;
                if (_body.Capacity > 64 * 1024)
                {
                    _body = new ArrayBufferWriter<byte>();
                }
                if (close)
                {
                    _connection.TrySetCloseReason(_stopping ? ConnectionCloseReason.ServerShutdown : ConnectionCloseReason.ResponseClose);
                    await FlushAsync().ConfigureAwait(false);
                    return;
                }
                _requestStarted = false;
                Arm(TimeoutKind.KeepAlive, _server.Limits.KeepAliveTimeout);
            }
        }
        catch (HttpRequestRejectedException e)
        {
            await RejectAsync(e.Reason).ConfigureAwait(false);
        }
        finally
        {
            Disarm();
            if (!Upgraded)
            {
                _connection.SetHeartbeatHandler(null);
            }
        }
    }

    private async ValueTask RejectAsync(RequestRejectionReason reason)
    {
        var rejection = RequestRejections.Get(reason);
        _connection.TrySetCloseReason(reason is RequestRejectionReason.RequestHeadersTimeout or RequestRejectionReason.RequestBodyTimeout
            ? ConnectionCloseReason.RequestTimeout
            : ConnectionCloseReason.RequestRejected);
        HttpLog.RequestRejected(_server.Logger, _connection.Id, rejection.StatusCode, reason);
        _response.Reset();
        _response.WriteError(rejection.StatusCode, rejection.Code, rejection.Message);
        ResponseWriter.Write(_connection.Output, _response, _server.Heartbeat.DateFieldLine, close: true, http10KeepAlive: false, omitBody: false);
        _pendingFlush = true;
        await FlushAsync().ConfigureAwait(false);
    }

    private async ValueTask FlushAsync()
    {
        if (_pendingFlush)
        {
            _pendingFlush = false;
            await _connection.Output.FlushAsync().ConfigureAwait(false);
        }
    }

    private async ValueTask<ReadResult> ReadAsync()
    {
        var input = _connection.Input;
        if (input.TryRead(out var result))
        {
            return result;
        }
        // Answers to pipelined requests go out together: flush only when no further request is buffered.
        await FlushAsync().ConfigureAwait(false);
        return await input.ReadAsync().ConfigureAwait(false);
    }

    private async ValueTask<bool> ReadHeadAsync(long maxBody)
    {
        var input = _connection.Input;
        while (true)
        {
            if (_stopping && !_requestStarted)
            {
                _connection.TrySetCloseReason(ConnectionCloseReason.ServerShutdown);
                return false;
            }
            var result = await ReadAsync().ConfigureAwait(false);
            if (result.IsCanceled)
            {
                if (!HandleCancelledRead())
                {
                    return false;
                }
                continue;
            }
            var buffer = result.Buffer;
            if (!buffer.IsEmpty && !_requestStarted)
            {
                _requestStarted = true;
                Arm(TimeoutKind.RequestHead, _server.Limits.RequestHeadersTimeout);
            }
            var reader = new SequenceReader<byte>(buffer);
            bool complete;
            try
            {
                complete = HttpParser.TryParseRequestHead(ref reader, _head, _server.Limits, maxBody);
            }
            catch (HttpRequestRejectedException)
            {
                input.AdvanceTo(buffer.End);
                throw;
            }
            if (complete)
            {
                input.AdvanceTo(reader.Position);
                return true;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                _connection.TrySetCloseReason(ConnectionCloseReason.RemoteClosed);
                return false;
            }
        }
    }

    private async ValueTask<bool> ReadBodyAsync(long maxBody)
    {
        var input = _connection.Input;
        _body.ResetWrittenCount();
        _chunked.Reset();
        var remaining = _head.ContentLength ?? 0;
        Arm(TimeoutKind.RequestBody, _server.Limits.RequestBodyTimeout);
        while (true)
        {
            var result = await ReadAsync().ConfigureAwait(false);
            if (result.IsCanceled)
            {
                if (!HandleCancelledRead())
                {
                    return false;
                }
                continue;
            }
            var buffer = result.Buffer;
            if (_head.IsChunked)
            {
                var reader = new SequenceReader<byte>(buffer);
                bool done;
                try
                {
                    done = _chunked.TryDecode(ref reader, _body, maxBody, _server.Limits);
                }
                catch (HttpRequestRejectedException)
                {
                    input.AdvanceTo(buffer.End);
                    throw;
                }
                if (done)
                {
                    input.AdvanceTo(reader.Position);
                    return true;
                }
                input.AdvanceTo(reader.Position, buffer.End);
            }
            else
            {
                var take = Math.Min(remaining, buffer.Length);
                var part = buffer.Slice(0, take);
                foreach (var segment in part)
                {
                    _body.Write(segment.Span);
                }
                input.AdvanceTo(part.End);
                remaining -= take;
                if (remaining == 0)
                {
                    return true;
                }
            }
            if (result.IsCompleted)
            {
                _connection.TrySetCloseReason(ConnectionCloseReason.RemoteClosed);
                return false;
            }
        }
    }

    /// <summary>A read was cancelled by the heartbeat (timeout) or by <see cref="BeginStop"/>.</summary>
    /// <returns>True to keep reading; false to end quietly.</returns>
    /// <exception cref="HttpRequestRejectedException">A request timed out: answer 408.</exception>
    private bool HandleCancelledRead()
    {
        TimeoutKind fired;
        lock (_timeoutLock)
        {
            fired = _firedKind;
            _firedKind = TimeoutKind.None;
        }
        switch (fired)
        {
            case TimeoutKind.InitialSilence:
                _connection.TrySetCloseReason(ConnectionCloseReason.InitialSilenceTimeout);
                return false;
            case TimeoutKind.KeepAlive:
                _connection.TrySetCloseReason(ConnectionCloseReason.KeepAliveTimeout);
                return false;
            case TimeoutKind.RequestHead:
                HttpRequestRejectedException.Throw(RequestRejectionReason.RequestHeadersTimeout);
                return false;
            case TimeoutKind.RequestBody:
                HttpRequestRejectedException.Throw(RequestRejectionReason.RequestBodyTimeout);
                return false;
            default:
                // A stop request; or a timeout that fired just as its phase ended (stale): keep going.
                if (_stopping && !_requestStarted)
                {
                    _connection.TrySetCloseReason(ConnectionCloseReason.ServerShutdown);
                    return false;
                }
                return true;
        }
    }

    private void Arm(TimeoutKind kind, TimeSpan after)
    {
        var deadline = _server.Heartbeat.Time.GetUtcNow().UtcTicks + after.Ticks;
        lock (_timeoutLock)
        {
            _armedKind = kind;
            _deadlineTicks = deadline;
        }
    }

    private void Disarm()
    {
        lock (_timeoutLock)
        {
            _armedKind = TimeoutKind.None;
            _deadlineTicks = long.MaxValue;
        }
    }

    /// <inheritdoc />
    public void OnHeartbeat(DateTimeOffset now)
    {
        lock (_timeoutLock)
        {
            if (_armedKind == TimeoutKind.None || now.UtcTicks < _deadlineTicks)
            {
                return;
            }
            _firedKind = _armedKind;
            _armedKind = TimeoutKind.None;
            _deadlineTicks = long.MaxValue;
        }
        _connection.Input.CancelPendingRead();
    }
}
