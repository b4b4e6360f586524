using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;

namespace KestrelHub;

/// <summary>Registry of channels (in memory; the peer has no persistence).</summary>
public sealed class Hub
{
    private readonly ConcurrentDictionary<Guid, HubChannel> _channels = new();

    public HubChannel Create(CreateChannelRequest req)
    {
        var ch = new HubChannel(Guid.NewGuid(), req);
        _channels[ch.Id] = ch;
        return ch;
    }

    public HubChannel? Get(Guid id) => _channels.TryGetValue(id, out var ch) ? ch : null;

    public List<ChannelDto> List() => _channels.Values.OrderBy(c => c.CreatedAt).Select(c => c.Snapshot()).ToList();
}

public enum ChannelStatus { Created, Active, Paused, Stopped }

/// <summary>One channel: its connection registry and the ordered broadcast path.</summary>
public sealed class HubChannel
{
    private readonly ConcurrentDictionary<Guid, HubConnection> _connections = new();
    // Guards sequence assignment + enqueue so every connection sees broadcasts in sequence order.
    private readonly Lock _broadcastLock = new();
    private readonly string _name;
    private readonly string? _description;
    private readonly SettingsDto _settings;
    private long _sequence;
    private long _messagesSent;
    private int _connectionCount;

    public HubChannel(Guid id, CreateChannelRequest req)
    {
        Id = id;
        _name = req.Name!;
        _description = req.Description;
        var s = req.Settings;
        _settings = new SettingsDto(
            s?.MaxConnections ?? 1000,
            s?.AllowClientMessages ?? false,
            s?.PersistMessages ?? false,
            s?.RateLimitPerMinute ?? 60,
            s?.ReplayLast ?? 0);
        CreatedAt = UpdatedAt = DateTime.UtcNow;
    }

    public Guid Id { get; }
    public DateTime CreatedAt { get; }
    public DateTime UpdatedAt { get; private set; }
    public ChannelStatus Status { get; private set; }

    public ChannelDto Snapshot() => new(Id, _name, _description, Status.ToString(), CreatedAt, UpdatedAt, _settings,
        new StatsDto(Volatile.Read(ref _connectionCount), Interlocked.Read(ref _messagesSent)));

    public void Start()
    {
        if (Status != ChannelStatus.Active)
        {
            Status = ChannelStatus.Active;
            UpdatedAt = DateTime.UtcNow;
        }
    }

    public BroadcastResponse Broadcast(string content)
    {
        lock (_broadcastLock)
        {
            var seq = ++_sequence;
            var now = DateTime.UtcNow;
            // Serialized once; every connection's queue gets the same immutable bytes.
            var bytes = JsonSerializer.SerializeToUtf8Bytes(
                new BroadcastEnvelope("broadcast", content, Id, now, null, seq), HubJsonContext.Default.BroadcastEnvelope);
            var recipients = 0;
            foreach (var conn in _connections.Values)
            {
                if (conn.TryEnqueue(bytes))
                {
                    recipients++;
                }
            }
            _messagesSent++;
            return new BroadcastResponse(seq, recipients, now);
        }
    }

    /// <summary>Runs one accepted WebSocket until it closes: registers it, sends `connected`, then
    /// drains its queue on a send loop while this method reads (and discards) client frames.</summary>
    public async Task RunConnectionAsync(WebSocket ws, CancellationToken aborted)
    {
        if (Status != ChannelStatus.Active)
        {
            await DenyAsync(ws, $"Channel {_name} is not active", WebSocketCloseStatus.PolicyViolation);
            return;
        }
        if (Interlocked.Increment(ref _connectionCount) > _settings.MaxConnections)
        {
            Interlocked.Decrement(ref _connectionCount);
            await DenyAsync(ws, $"Channel {_name} is full", (WebSocketCloseStatus)1013);
            return;
        }
        var conn = new HubConnection(Guid.NewGuid(), ws);
        try
        {
            // `connected` goes first in the queue, before the connection becomes visible to Broadcast.
            conn.TryEnqueue(JsonSerializer.SerializeToUtf8Bytes(new ConnectedEnvelope("connected",
                $"Connected to channel: {_name}", Id, DateTime.UtcNow,
                new ConnectedData(Snapshot(), conn.Id)), HubJsonContext.Default.ConnectedEnvelope));
            _connections[conn.Id] = conn;
            var sendLoop = conn.SendLoopAsync(aborted);
            await conn.ReceiveLoopAsync(aborted);
            conn.Complete();
            await sendLoop;
        }
        finally
        {
            _connections.TryRemove(conn.Id, out _);
            Interlocked.Decrement(ref _connectionCount);
        }
    }

    private async Task DenyAsync(WebSocket ws, string message, WebSocketCloseStatus code)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(new DeniedEnvelope("denied", message, Id, DateTime.UtcNow, null),
            HubJsonContext.Default.DeniedEnvelope);
        try
        {
            await ws.SendAsync(bytes, WebSocketMessageType.Text, true, CancellationToken.None);
            await ws.CloseOutputAsync(code, message, CancellationToken.None);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
        }
    }
}

/// <summary>One WebSocket: a bounded queue drained by a single send loop, so frames never
/// interleave and one slow client never blocks a broadcast.</summary>
public sealed class HubConnection(Guid id, WebSocket ws)
{
    // ~1 MiB of ~200-byte envelopes, the same budget as EmitHub's max_pending_bytes default.
    private const int QueueCapacity = 4096;
    // Single-reader unbounded channel: TryRead is lock-free for the send loop; the bound is kept by
    // an explicit counter, so a slow client is cut off instead of growing without limit.
    private readonly Channel<byte[]> _queue = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions
    {
        SingleReader = true,
        SingleWriter = false,
    });
    private int _pending;

    public Guid Id { get; } = id;

    /// <summary>False when the client is too slow (queue full) or gone; a slow client is aborted.</summary>
    public bool TryEnqueue(byte[] frame)
    {
        if (Interlocked.Increment(ref _pending) <= QueueCapacity && _queue.Writer.TryWrite(frame))
        {
            return true;
        }
        Interlocked.Decrement(ref _pending);
        if (ws.State == WebSocketState.Open)
        {
            ws.Abort();
        }
        return false;
    }

    public void Complete() => _queue.Writer.TryComplete();

    public async Task SendLoopAsync(CancellationToken ct)
    {
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(ct))
            {
                while (reader.TryRead(out var frame))
                {
                    Interlocked.Decrement(ref _pending);
                    await ws.SendAsync(frame, WebSocketMessageType.Text, true, ct);
                }
            }
            if (ws.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, ct);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            _queue.Writer.TryComplete();
        }
    }

    public async Task ReceiveLoopAsync(CancellationToken ct)
    {
        // Only control frames and ignored client text arrive; a small buffer keeps idle memory low.
        var buffer = new byte[1024];
        try
        {
            while (ws.State == WebSocketState.Open)
            {
                var r = await ws.ReceiveAsync(buffer.AsMemory(), ct);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
        }
    }
}
