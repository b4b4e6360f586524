using System.Net;
using System.Text;

namespace EmitHub.LoadTool;

/// <summary>Outcome of a publishing phase.</summary>
internal sealed record PublishResult(long Ok, long Failed, long Recipients, int Inflight);

/// <summary>Publishes broadcasts over REST from a few keep-alive connections. The content is
/// "T&lt;µs&gt;|S&lt;n&gt;|xxx…": the CLOCK_MONOTONIC time the message was due (fixed rate) or sent (max rate),
/// padded to the requested size; clients measure latency from it.</summary>
internal sealed class Publisher(IPAddress ip, string host, int port, string path, int size, int inflight)
{
    private long _ok;
    private long _failed;
    private long _recipients;

    private long _published;

    private string Body(long us)
    {
        // Our own publish number rides along for debugging; order is checked on the server's
        // `sequence`, since concurrent requests may reach the server in another order than numbered.
        var head = $"T{us}|S{Interlocked.Increment(ref _published)}|";
        return $$"""{"content":"{{head}}{{new string('x', Math.Max(0, size - head.Length))}}"}""";
    }

    private void Post(HttpConn conn, long us)
    {
        try
        {
            var (status, body) = conn.Send("POST", path, Body(us));
            if (status is >= 200 and < 300)
            {
                Interlocked.Increment(ref _ok);
                Interlocked.Add(ref _recipients, HttpConn.JsonLong(body, "recipients"));
                return;
            }
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
        }
        Interlocked.Increment(ref _failed);
    }

    /// <summary>As fast as the server delivers: a broadcast may start only while fewer than
    /// <paramref name="window"/> broadcasts are ahead of the average local client, which bounds the
    /// server's queues (and so measures sustained delivery, not queue growth).</summary>
    public PublishResult RunMax(double seconds, int window, ClientSet local)
    {
        var endUs = Clock.NowUs() + (long)(seconds * 1e6);
        var localClients = Math.Max(1, local.Connected);
        long started = 0;
        var threads = Enumerable.Range(0, inflight).Select(_ => new Thread(() =>
        {
            using var conn = new HttpConn(ip, host, port);
            while (Clock.NowUs() < endUs)
            {
                var ahead = Volatile.Read(ref started) - Volatile.Read(ref _failed) - local.Delivered / (double)localClients;
                if (ahead >= window)
                {
                    Thread.Sleep(1);
                    continue;
                }
                Interlocked.Increment(ref started);
                Post(conn, Clock.NowUs());
            }
        }) { IsBackground = true }).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        return new PublishResult(_ok, _failed, _recipients, inflight);
    }

    /// <summary>Fixed rate: broadcast i is due at t0 + i/rate; latency counts from that due time even
    /// when the publisher runs late, so a stalled server cannot hide its backlog (no coordinated omission).</summary>
    public PublishResult RunFixed(double rate, double seconds, long t0Us)
    {
        var total = (long)Math.Max(1, rate * seconds);
        var intervalUs = 1e6 / rate;
        long next = -1;
        var threads = Enumerable.Range(0, inflight).Select(_ => new Thread(() =>
        {
            using var conn = new HttpConn(ip, host, port);
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= total)
                {
                    break;
                }
                var due = t0Us + (long)(i * intervalUs);
                if (due > Clock.NowUs())
                {
                    Proc.SleepUntilUs(due);
                }
                Post(conn, due);
            }
        }) { IsBackground = true }).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        return new PublishResult(_ok, _failed, _recipients, inflight);
    }
}
