using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using EmitHub.Core.Channels;
using EmitHub.Net.Api;
using EmitHub.Core.Configuration;
using EmitHub.Net.Http;
using EmitHub.Net.Metrics;
using EmitHub.Net.Routing;
using EmitHub.Net.Transport;
using Microsoft.Extensions.Logging;

namespace EmitHub.Net.Server;

/// <summary>
/// The EmitHub HTTP/1.1 server: listener, heartbeat, connections and router over one <see cref="ChannelRegistry"/>.
/// Binds <see cref="EmitHubOptions.Host"/>:<see cref="EmitHubOptions.Port"/> of <see cref="LiveOptions.Startup"/>
/// (port 0 picks a free port, see <see cref="LocalEndPoint"/>); everything else is read live per request.
/// </summary>
public sealed class HubServer : IAsyncDisposable, ServerMetrics.ISource
{
    /// <summary>How long <see cref="StopAsync"/> lets requests in progress finish before aborting connections: 2 s.</summary>
    public static readonly TimeSpan ShutdownGrace = TimeSpan.FromSeconds(2);

    private readonly LiveOptions _options;
    private readonly ChannelRegistry _registry;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Heartbeat _heartbeat;
    private readonly Action<ConnectionContext> _onConnectionClosed;
    private readonly CancellationTokenSource _stopping = new();
    private readonly long[] _closedByReason = new long[Enum.GetValues<ConnectionCloseReason>().Length];
    private SocketListener? _listener;
    private Task? _acceptLoop;
    private TlsCertificateSource? _tls;
    private MetricsCollector? _metrics;
    private ConnectionStormCompaction? _stormCompaction;
    private ITimer? _stormTimer;
    private int _stormTicking;
    private long _nextConnectionId;
    private long _closedBytesReceived;
    private long _closedBytesSent;
    private int _stopped;

    /// <summary>Creates a server; nothing is bound until <see cref="StartAsync"/>.</summary>
    /// <param name="options">Live configuration (bind address from <see cref="LiveOptions.Startup"/>).</param>
    /// <param name="registry">Initialized channel registry.</param>
    /// <param name="loggerFactory">Loggers for transport, HTTP and server.</param>
    /// <param name="time">Clock of the heartbeat and every timeout (a fake one in tests).</param>
    public HubServer(LiveOptions options, ChannelRegistry registry, ILoggerFactory loggerFactory, TimeProvider time)
    {
        _options = options;
        _registry = registry;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("EmitHub.Net.Server");
        _time = time;
        _heartbeat = new Heartbeat(time);
        _onConnectionClosed = OnConnectionClosed;
    }

    /// <summary>Version reported by <c>/health</c> and <c>/</c> (assembly informational version without build metadata).</summary>
    public static string Version { get; } = GetVersion();

    /// <summary>Whether a settled connection storm triggers one compacting collection
    /// (<see cref="ConnectionStormCompaction"/>); default true. Change only before <see cref="StartAsync"/>.</summary>
    public bool CompactAfterConnectionStorms { get; set; } = true;

    /// <summary>Tests: the growth in open connections that counts as a storm (default
    /// <see cref="ConnectionStormCompaction.MinimumGrowth"/>).</summary>
    internal int StormMinimumGrowth { get; set; } = ConnectionStormCompaction.MinimumGrowth;

    /// <summary>Compacting collections run after connection storms so far.</summary>
    internal int StormCompactions => _stormCompaction?.Compactions ?? 0;

    /// <summary>HTTP limits and timeouts; change only before <see cref="StartAsync"/> (tests shorten them).</summary>
    public HttpLimits Limits { get; set; } = new();

    /// <summary>The WebSocket implementation that takes over upgraded connections; <see cref="StartAsync"/> installs
    /// <see cref="WebSockets.WebSocketEndpoint"/> unless one was set before.</summary>
    public IWebSocketUpgrade? WebSocketUpgrade { get; set; }

    /// <summary>The Server-Sent Events stream of <c>GET /api/v1/channels/{id}/events</c>; <see cref="StartAsync"/>
    /// installs <see cref="ServerSentEvents.ServerSentEventsEndpoint"/> unless one was set before.</summary>
    public IWebSocketUpgrade? EventStream { get; set; }

    /// <summary>Decides on subscribers of private channels; every transport that streams a channel asks it.</summary>
    public Auth.ISubscriberTokenValidator SubscriberTokens => _subscriberTokens ??= new Auth.SubscriberTokenValidator(_options);

    private Auth.ISubscriberTokenValidator? _subscriberTokens;

    /// <summary>The bound address (with the real port). Valid after <see cref="StartAsync"/>.</summary>
    public IPEndPoint LocalEndPoint => _listener?.LocalEndPoint ?? throw new InvalidOperationException("The server is not started.");

    /// <summary>The heartbeat (one timer for every timeout); exposed for the WebSocket layer and tests.</summary>
    public Heartbeat Heartbeat => _heartbeat;

    /// <summary>Connections currently open (HTTP and upgraded).</summary>
    public int ConnectionCount => _heartbeat.ConnectionCount;

    /// <summary>Test hook: the most output bytes any open connection holds not yet sent.</summary>
    internal long MaxBufferedOutputBytesForTests =>
        _heartbeat.EnumerateConnections().Select(c => c.BufferedOutputBytes).DefaultIfEmpty(0).Max();

    /// <summary>The <c>/metrics</c> collector over the registry's meter. Valid after <see cref="StartAsync"/>.</summary>
    public MetricsCollector Metrics => _metrics ?? throw new InvalidOperationException("The server is not started.");

    /// <summary>The TLS certificate in use, or null when the server speaks plain HTTP.</summary>
    public TlsCertificateSource? Tls => _tls;

    int ServerMetrics.ISource.OpenConnections => _heartbeat.ConnectionCount;

    long ServerMetrics.ISource.AcceptedConnections => Interlocked.Read(ref _nextConnectionId);

    long ServerMetrics.ISource.ClosedConnections(ConnectionCloseReason reason) => Interlocked.Read(ref _closedByReason[(int)reason]);

    (long Received, long Sent) ServerMetrics.ISource.TotalBytes()
    {
        long received = Interlocked.Read(ref _closedBytesReceived), sent = Interlocked.Read(ref _closedBytesSent);
        foreach (var connection in _heartbeat.EnumerateConnections())
        {
            received += connection.BytesReceived;
            sent += connection.BytesSent;
        }
        return (received, sent);
    }

    WebSockets.WebSocketCounters? ServerMetrics.ISource.WebSockets => (WebSocketUpgrade as WebSockets.WebSocketEndpoint)?.Counters;

    /// <summary>Binds the listener and starts accepting.</summary>
    /// <exception cref="SocketException">The address cannot be bound.</exception>
    /// <exception cref="InvalidOperationException">[tls] is set and its files do not hold a usable certificate and key
    /// (the message names the file and the problem).</exception>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        WarmUp();
        var startup = _options.Startup;
        if (startup.Tls.Enabled)
        {
            _tls = TlsCertificateSource.TryCreate(startup.Tls.CertPath!, startup.Tls.KeyPath!,
                _loggerFactory.CreateLogger("EmitHub.Net.Transport"), out var tlsError)
                ?? throw new InvalidOperationException(tlsError);
        }
        var endPoint = new IPEndPoint(ResolveHost(startup.Host), startup.Port);
        _listener = new SocketListener(endPoint, _loggerFactory.CreateLogger("EmitHub.Net.Transport"));
        if (string.IsNullOrEmpty(_options.Current.ApiKey) && !IPAddress.IsLoopback(endPoint.Address))
        {
            ServerLog.NoApiKeyOnPublicAddress(_logger, _listener.LocalEndPoint);
        }

        WebSocketUpgrade ??= new WebSockets.WebSocketEndpoint(_options, _registry, _heartbeat, _loggerFactory, new WebSockets.WebSocketCounters(),
            SubscriberTokens);
        EventStream ??= new ServerSentEvents.ServerSentEventsEndpoint(_options, _registry, _heartbeat, SubscriberTokens, _loggerFactory);
        ServerMetrics.Register(_registry.Metrics.Meter, this);
        _metrics = new MetricsCollector(_registry.Metrics.Meter);
        var router = new Router(_options, _registry, () => WebSocketUpgrade, Version, _time, _metrics, () => EventStream);
        var httpContext = new HttpServerContext(Limits, () => _options.Current.MessageSizeLimit, _heartbeat, router,
            _loggerFactory.CreateLogger("EmitHub.Net.Http"));
        // One delegate for every connection: a connection's own objects are only what it holds itself.
        var stopping = _stopping.Token;
        Func<ConnectionContext, Task<IUpgradedConnection?>> serve = connection => HttpConnection.ServeAsync(connection, httpContext, stopping);
        var transportLogger = _loggerFactory.CreateLogger("EmitHub.Net.Transport");
        _heartbeat.Start();
        if (CompactAfterConnectionStorms)
        {
            _stormCompaction = new ConnectionStormCompaction(() =>
            {
                var (pause, before, after) = ConnectionStormCompaction.CompactAndMeasure();
                ServerLog.StormCompacted(_logger, _heartbeat.ConnectionCount, pause, before / 1048576.0, after / 1048576.0);
            }, StormMinimumGrowth);
            _stormTimer = _time.CreateTimer(static s => ((HubServer)s!).OnStormTick(), this, Heartbeat.Interval, Heartbeat.Interval);
        }
        _acceptLoop = Task.Run(() => _listener.AcceptLoopAsync(socket => OnAccepted(socket, serve, transportLogger), _stopping.Token));
        return Task.CompletedTask;
    }

    /// <summary>
    /// Runs every code path of a request once before accepting. Assemblies load and type initializers run lazily,
    /// and both need file descriptors: the first request after the process ran out of descriptors would otherwise
    /// fail to load System.Text.Encodings.Web, and a failed type initializer (a JSON context) fails forever.
    /// </summary>
    private static void WarmUp()
    {
        var head = new HttpRequestHead();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(
            "POST /api/v1/channels?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n"u8.ToArray()));
        HttpParser.TryParseRequestHead(ref reader, head, new HttpLimits(), 1024);
        var chunked = new ChunkedBodyDecoder();
        chunked.Reset();
        reader = new SequenceReader<byte>(new ReadOnlySequence<byte>("2\r\n{}\r\n0\r\n\r\n"u8.ToArray()));
        chunked.TryDecode(ref reader, new ArrayBufferWriter<byte>(), 1024, new HttpLimits());
        try
        {
            HttpRequestRejectedException.Throw(RequestRejectionReason.InvalidRequestLine);
        }
        catch (HttpRequestRejectedException)
        {
        }

        var response = new HttpResponse();
        response.WriteError(400, "warm_up", "Warm-up.");
        response.WriteJson(200, new Api.HealthBody("healthy", "emit-hub", Version, DateTimeOffset.UtcNow), Api.NetJsonContext.Default.HealthBody);
        response.WriteJson(200, new Api.ReadyBody("ready", new Api.ReadyChecks("ok", "ok")), Api.NetJsonContext.Default.ReadyBody);
        response.WriteJson(200, new Api.ServiceInfoBody("emit-hub", Version, "/docs", "/health", "/api/v1"), Api.NetJsonContext.Default.ServiceInfoBody);
        var snapshot = new ChannelSnapshot(Guid.Empty, "w", null, ChannelStatus.Created, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow,
            new ChannelSettingsJson(1, false, false, 0, 0), new ChannelStats(0, 0));
        response.WriteJson(200, snapshot, CoreJsonContext.Default.ChannelSnapshot);
        response.WriteJson(200, [snapshot], CoreJsonContext.Default.IReadOnlyListChannelSnapshot);
        response.WriteJson(200, new BroadcastAck(1, 0, DateTimeOffset.UtcNow), CoreJsonContext.Default.BroadcastAck);
        ChannelRequests.TryParseCreate("{\"name\":\"w\",\"settings\":{}}"u8, out _, out _);
        ChannelRequests.TryParseBroadcast("{\"content\":\"w\",\"data\":{}}"u8, out _, out _);
        var pipe = new System.IO.Pipelines.Pipe();
        response.AddHeader("Vary", "Origin");
        ResponseWriter.Write(pipe.Writer, response, "Date: x\r\n"u8, close: true, http10KeepAlive: false, omitBody: false);
        pipe.Writer.Complete();
        pipe.Reader.Complete();
        _ = Api.DocsPage.Html.Length;
        _ = CorsPolicy.Evaluate(new CorsOptions(), "http://localhost:3000");
        _ = ApiKeyAuthorization.IsAuthorized("Bearer a", "a");
    }

    private void OnStormTick()
    {
        // A collection longer than a tick must not run twice.
        if (Interlocked.Exchange(ref _stormTicking, 1) == 1)
        {
            return;
        }
        try
        {
            _stormCompaction?.OnTick(Interlocked.Read(ref _nextConnectionId), _heartbeat.ConnectionCount);
        }
        finally
        {
            Volatile.Write(ref _stormTicking, 0);
        }
    }

    private static IPAddress ResolveHost(string host)
    {
        if (IPAddress.TryParse(host, out var address))
        {
            return address;
        }
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return IPAddress.Loopback;
        }
        var addresses = Dns.GetHostAddresses(host);
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses[0];
    }

    private void OnAccepted(Socket socket, Func<ConnectionContext, Task<IUpgradedConnection?>> serve, ILogger transportLogger)
    {
        var id = Interlocked.Increment(ref _nextConnectionId);
        var connection = new ConnectionContext(id, socket, MemoryPool<byte>.Shared, _time, transportLogger, _tls);
        _heartbeat.Register(connection);
        if (_stopping.IsCancellationRequested)
        {
            connection.RequestStop();
        }
        // Not on the accept loop: a connection's first request may be parsed and answered synchronously.
        ThreadPool.UnsafeQueueUserWorkItem(static state =>
        {
            var (connection, serve, onClosed, stopping) = state;
            // Never throws; the connection's end is seen through HasClosed (after an upgrade the task completes early).
            _ = connection.RunAsync(serve, stopping, onClosed);
        }, (connection, serve, _onConnectionClosed, _stopping.Token), preferLocal: false);
    }

    /// <summary>The end of a connection (its <see cref="ConnectionContext.RunAsync"/>'s last step).</summary>
    private void OnConnectionClosed(ConnectionContext connection)
    {
        _heartbeat.Unregister(connection);
        // After the removal, so a collection in between undercounts for a moment instead of counting twice.
        Interlocked.Add(ref _closedBytesReceived, connection.BytesReceived);
        Interlocked.Add(ref _closedBytesSent, connection.BytesSent);
        Interlocked.Increment(ref _closedByReason[(int)connection.CloseReason]);
    }

    /// <summary>Completes when every connection in <paramref name="connections"/> has closed (its close callback ran).
    /// Polls every 10 ms: only the server's stop waits like this, and a connection holds no task for its whole life
    /// that could be awaited instead (issue 10).</summary>
    private static async Task WhenClosedAsync(IEnumerable<ConnectionContext> connections)
    {
        foreach (var connection in connections)
        {
            while (!connection.HasClosed)
            {
                await Task.Delay(10).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Stops accepting, lets requests in progress finish (up to <see cref="ShutdownGrace"/> or until
    /// <paramref name="cancellationToken"/>), asks upgraded connections to close (their token is cancelled), then
    /// aborts whatever is still open.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }
        ServerLog.Stopping(_logger, _heartbeat.ConnectionCount);
        _stopping.Cancel();
        _stormTimer?.Dispose();
        _listener?.Dispose();
        if (_acceptLoop != null)
        {
            await _acceptLoop.ConfigureAwait(false);
        }
        var open = _heartbeat.Connections;
        foreach (var connection in open)
        {
            connection.RequestStop();
        }

        var all = WhenClosedAsync(open);
        try
        {
            await all.WaitAsync(ShutdownGrace, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
        }
        var aborted = 0;
        var remaining = _heartbeat.Connections;
        foreach (var connection in remaining)
        {
            aborted++;
            connection.Abort(ConnectionCloseReason.ServerShutdown);
        }
        try
        {
            await WhenClosedAsync(remaining).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        _heartbeat.Dispose();
        _metrics?.Dispose();
        ServerLog.Stopped(_logger, aborted);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private static string GetVersion()
    {
        var informational = typeof(HubServer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrEmpty(informational))
        {
            return typeof(HubServer).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
        }
        // The SDK appends "+<commit>" (SourceLink); the user-facing version is the part before it.
        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? informational : informational[..plus];
    }
}
