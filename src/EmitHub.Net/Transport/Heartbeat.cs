using System.Collections.Concurrent;
using System.Text;

namespace EmitHub.Net.Transport;

/// <summary>
/// The one timer of the server (idea of Kestrel's <c>Heartbeat</c>): it ticks about once a second on the
/// <see cref="TimeProvider"/>, refreshes the cached <c>Date</c> field line and calls every registered connection's
/// <see cref="IConnectionHeartbeatHandler"/>. All timeouts derive from it, so tests move time with a fake provider.
/// </summary>
public sealed class Heartbeat : IDisposable
{
    /// <summary>Tick period: 1 s. Timeouts are therefore precise to about one second.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<long, ConnectionContext> _connections = new();
    private ITimer? _timer;
    private byte[] _dateFieldLine;
    private int _ticking;

    /// <summary>Creates a stopped heartbeat; <see cref="Start"/> starts ticking.</summary>
    public Heartbeat(TimeProvider time)
    {
        _time = time;
        _dateFieldLine = FormatDate(time.GetUtcNow());
    }

    /// <summary>The time source every timeout uses.</summary>
    public TimeProvider Time => _time;

    /// <summary>Bytes of <c>Date: &lt;IMF-fixdate&gt;\r\n</c> (RFC 9110 §6.6.1) for the current second.</summary>
    public ReadOnlySpan<byte> DateFieldLine => Volatile.Read(ref _dateFieldLine);

    /// <summary>Number of registered connections.</summary>
    public int ConnectionCount => _connections.Count;

    /// <summary>Starts ticking every <see cref="Interval"/>.</summary>
    public void Start() => _timer ??= _time.CreateTimer(static s => ((Heartbeat)s!).Tick(), this, Interval, Interval);

    /// <summary>Registers a connection so its heartbeat handler is called every tick.</summary>
    public void Register(ConnectionContext connection) => _connections[connection.Id] = connection;

    /// <summary>Stops calling the connection.</summary>
    public void Unregister(ConnectionContext connection) => _connections.TryRemove(connection.Id, out _);

    /// <summary>The registered connections (a moment's snapshot, for shutdown).</summary>
    public ICollection<ConnectionContext> Connections => _connections.Values;

    /// <summary>Walks the registered connections without copying them (a connection registered or removed meanwhile
    /// may or may not be seen). The server's list of open connections is this one: one entry per connection.</summary>
    public IEnumerable<ConnectionContext> EnumerateConnections()
    {
        foreach (var pair in _connections)
        {
            yield return pair.Value;
        }
    }

    /// <summary>Runs one tick now (also used by tests).</summary>
    public void Tick()
    {
        // A slow tick must not overlap the next one: connections would see time go backwards.
        if (Interlocked.Exchange(ref _ticking, 1) == 1)
        {
            return;
        }
        try
        {
            var now = _time.GetUtcNow();
            Volatile.Write(ref _dateFieldLine, FormatDate(now));
            foreach (var pair in _connections)
            {
                pair.Value.OnHeartbeat(now);
            }
        }
        finally
        {
            Volatile.Write(ref _ticking, 0);
        }
    }

    private static byte[] FormatDate(DateTimeOffset now) =>
        Encoding.ASCII.GetBytes("Date: " + now.UtcDateTime.ToString("r", System.Globalization.CultureInfo.InvariantCulture) + "\r\n");

    /// <inheritdoc />
    public void Dispose() => _timer?.Dispose();
}
