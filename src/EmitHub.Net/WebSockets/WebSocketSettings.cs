using EmitHub.Core.Configuration;
using EmitHub.Core.Fanout;
using EmitHub.Net.WebSockets.Compression;

namespace EmitHub.Net.WebSockets;

/// <summary>
/// A connection's WebSocket limits and timings, taken from the live configuration when it is accepted (SPEC §1:
/// limits apply to new connections after a hot reload).
/// </summary>
/// <param name="ReaderLimits">Message and fragmented-message limits (1009).</param>
/// <param name="MaxPendingBytes">Outbound bytes before the connection is a slow consumer (1008).</param>
/// <param name="PingInterval">Time between server pings (<c>ping_interval</c>).</param>
/// <param name="PongTimeout">Time a pong may take before the connection is closed 1001 (<c>pong_timeout</c>).</param>
/// <param name="CloseTimeout">Time the peer gets to answer our close frame, and to finish a message it started
/// (<c>connection_timeout</c>; past it 1008).</param>
/// <param name="Counters">Server-wide WebSocket counters, or null.</param>
/// <param name="Compression"><c>[websocket] compression</c>: how permessage-deflate offers are answered.</param>
/// <param name="Deflate">The permessage-deflate parameters agreed for this connection, or null (uncompressed).</param>
/// <param name="PartialMessages">Server-wide bound on bytes held by unfinished client messages
/// (<c>max_partial_message_bytes</c>), or null for none.</param>
/// <param name="Coalescer">The process's send coalescer for <c>coalesce_window_ms</c>, or null (sends at once).</param>
public sealed record WebSocketSettings(
    WebSocketReaderLimits ReaderLimits,
    long MaxPendingBytes,
    TimeSpan PingInterval,
    TimeSpan PongTimeout,
    TimeSpan CloseTimeout,
    WebSocketCounters? Counters,
    WebSocketCompressionMode Compression = WebSocketCompressionMode.Off,
    PerMessageDeflateParameters? Deflate = null,
    PartialMessageBudget? PartialMessages = null,
    SendCoalescer? Coalescer = null)
{
    /// <summary>Settings from <paramref name="options"/>.</summary>
    public static WebSocketSettings FromOptions(EmitHubOptions options, WebSocketCounters? counters, PartialMessageBudget? partialMessages = null) => new(
        WebSocketReaderLimits.FromOptions(options),
        options.WebSocket.MaxPendingBytes,
        TimeSpan.FromSeconds(options.WebSocket.PingInterval),
        TimeSpan.FromSeconds(options.WebSocket.PongTimeout),
        TimeSpan.FromSeconds(options.WebSocket.ConnectionTimeout),
        counters,
        WebSocketCompressionModes.TryParse(options.WebSocket.Compression, out var mode) ? mode : WebSocketCompressionMode.Off,
        PartialMessages: partialMessages,
        Coalescer: SendCoalescer.For(TimeSpan.FromMilliseconds(options.WebSocket.CoalesceWindowMs)));

    /// <summary>These settings with <paramref name="deflate"/> agreed: the reader accepts and inflates RSV1 messages.</summary>
    public WebSocketSettings WithDeflate(PerMessageDeflateParameters? deflate) => deflate is null
        ? Deflate is null ? this : this with { Deflate = null }
        : this with
        {
            Deflate = deflate,
            ReaderLimits = ReaderLimits with { PerMessageDeflate = true, ClientNoContextTakeover = deflate.ClientNoContextTakeover },
        };
}

/// <summary>Server-wide WebSocket counters (thread-safe, for logs and <c>/metrics</c>). Each is touched once per
/// connection (open, close), never per message.</summary>
public sealed class WebSocketCounters
{
    private readonly long[] _closed = new long[WebSocketCloseKinds.Labels.Length];
    private long _open;
    private long _accepted;
    private long _slowConsumers;
    private long _protocolErrors;

    /// <summary>Connections open now.</summary>
    public long Open => Interlocked.Read(ref _open);

    /// <summary>Connections upgraded since start.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Connections closed 1008 "slow consumer" since start.</summary>
    public long SlowConsumers => Interlocked.Read(ref _slowConsumers);

    /// <summary>Connections failed for a protocol violation since start.</summary>
    public long ProtocolErrors => Interlocked.Read(ref _protocolErrors);

    /// <summary>Connections closed since start for <paramref name="kind"/>.</summary>
    public long Closed(WebSocketCloseKind kind) => Interlocked.Read(ref _closed[(int)kind]);

    internal void OnOpened()
    {
        Interlocked.Increment(ref _open);
        Interlocked.Increment(ref _accepted);
    }

    internal void OnClosed(WebSocketCloseKind kind)
    {
        Interlocked.Increment(ref _closed[(int)kind]);
        Interlocked.Decrement(ref _open);
    }

    internal void OnSlowConsumer() => Interlocked.Increment(ref _slowConsumers);

    internal void OnProtocolError() => Interlocked.Increment(ref _protocolErrors);
}
