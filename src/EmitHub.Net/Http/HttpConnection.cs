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

    public HttpConnection(ConnectionContext connection, HttpServerContext server)
    {
        _connection = connection;
        _server = server;
        _context = new HttpRequestContext(_head, _response, connection);
    }

    public ConnectionContext Connection => _connection;

    /// <summary>True once the connection was handed to an upgraded protocol.</summary>
    public bool Upgraded { get; private set; }

    /// <summary>Test hook: called with each HTTP connection as it is created (tests take a weak reference to prove an
    /// upgraded connection no longer holds it). Null in production.</summary>
    internal static Action<HttpConnection>? CreatedForTests;

    /// <summary>Test hook: the request head this connection parses into (reused for every request).</summary>
    internal HttpRequestHead HeadForTests => _head;

    // Set by the server's stop (ConnectionContext.RequestStop): idle connections close now, one answering a request
    // closes after it.
    private bool Stopping => _connection.StopRequested;

    /// <summary>
    /// Serves HTTP/1.1 on <paramref name="connection"/> until it closes (null) or an upgrade was accepted (the
    /// upgraded protocol, which the transport runs next: <see cref="ConnectionContext.RunAsync"/>). The HTTP objects
    /// (this connection, its request head, response, chunked decoder and body buffer) are garbage once this task
    /// completed, so an idle WebSocket does not keep them alive. Exceptions propagate to the transport.
    /// </summary>
    public static Task<IUpgradedConnection?> ServeAsync(ConnectionContext connection, HttpServerContext server, CancellationToken serverStopping) =>
        Create(connection, server).RunAsync(serverStopping);

    private static HttpConnection Create(ConnectionContext connection, HttpServerContext server)
    {
        var http = new HttpConnection(connection, server);
        CreatedForTests?.Invoke(http);
        return http;
    }

    /// <summary>Serves requests until the connection should close (null) or an upgrade was accepted (the upgraded
    /// connection, still to be run; this HTTP connection is done with the transport).</summary>
    public async Task<IUpgradedConnection?> RunAsync(CancellationToken serverStopping)
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
                    return null;
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
                        return null;
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
                    _context.UpgradeTo = null;
                    IUpgradedConnection? upgraded;
                    try
                    {
                        upgraded = await upgrade.AcceptAsync(_head, _connection, serverStopping).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (serverStopping.IsCancellationRequested)
                    {
                        _connection.TrySetCloseReason(ConnectionCloseReason.ServerShutdown);
                        upgraded = null;
                    }
                    if (upgraded is null)
                    {
                        _connection.TrySetCloseReason(ConnectionCloseReason.UpgradedProtocolClosed);
                    }
                    return upgraded;
                }

                var close = !_head.KeepAlive || _response.CloseConnection || Stopping;
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
                    _connection.TrySetCloseReason(Stopping ? ConnectionCloseReason.ServerShutdown : ConnectionCloseReason.ResponseClose);
                    await FlushAsync().ConfigureAwait(false);
                    return null;
                }
                _requestStarted = false;
                Arm(TimeoutKind.KeepAlive, _server.Limits.KeepAliveTimeout);
            }
        }
        catch (HttpRequestRejectedException e)
        {
            await RejectAsync(e.Reason).ConfigureAwait(false);
            return null;
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
            _connection.OnOutputFlushing(_connection.Output.UnflushedBytes);
            await _connection.Output.FlushAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Unflushed answer bytes after which a pipelined request waits for a flush (and its back-pressure).</summary>
    internal const int PipelinedFlushBytes = 64 * 1024;

    private async ValueTask<ReadResult> ReadAsync()
    {
        var input = _connection.Input;
        // Pipelined answers wait for a flush only up to PipelinedFlushBytes: the flush is what applies the output
        // pipe's back-pressure, so a client that pipelines thousands of requests and never reads would otherwise make
        // this connection buffer every answer (found by a hostile test: 10,000 GET /docs grew RSS by 500 MB).
        if (_pendingFlush && _connection.Output.UnflushedBytes >= PipelinedFlushBytes)
        {
            await FlushAsync().ConfigureAwait(false);
        }
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
            if (Stopping && !_requestStarted)
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

    /// <summary>A read was cancelled by the heartbeat (timeout) or by <see cref="ConnectionContext.RequestStop"/>.</summary>
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
                if (Stopping && !_requestStarted)
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
