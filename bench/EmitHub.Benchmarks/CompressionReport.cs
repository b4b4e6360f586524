using System.Diagnostics;
using System.Globalization;
using System.Text;
using EmitHub.Core.Fanout;
using EmitHub.Net.WebSockets;
using EmitHub.Net.WebSockets.Compression;

namespace EmitHub.Benchmarks;

/// <summary>
/// permessage-deflate cost per delivery, measured on the real send-path code (<see cref="PerMessageDeflateSender"/>)
/// without sockets: a 1-2 KB dashboard envelope is framed once, then each of N subscribers picks what it would put
/// on the wire. Reports bytes on the wire per delivery, server CPU per delivery (single-threaded loop time / deliveries), and
/// memory per idle compressed connection (RSS growth per connection after its first compressed message; deflate
/// state is native memory the GC does not see). Also the size at which compressing one envelope on its own pays.
/// <code>dotnet run -c Release --project bench/EmitHub.Benchmarks -- compression-report [clients...] [--broadcasts N]</code>
/// </summary>
public static class CompressionReport
{
    public static void Run(string[] args)
    {
        var clients = new List<int>();
        var broadcasts = 20;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--broadcasts")
            {
                broadcasts = int.Parse(args[++i], CultureInfo.InvariantCulture);
            }
            else
            {
                clients.Add(int.Parse(args[i], CultureInfo.InvariantCulture));
            }
        }
        if (clients.Count == 0)
        {
            clients.AddRange([1_000, 10_000]);
        }

        // JIT and pool warm-up, not reported.
        foreach (var mode in new[] { WebSocketCompressionMode.Off, WebSocketCompressionMode.Shared, WebSocketCompressionMode.PerConnection })
        {
            Measure(mode, 50, 3, print: false);
        }
        Console.WriteLine("| mode | clients | payload B | wire B/delivery | CPU µs/delivery | CPU ms/broadcast | RSS KiB/connection |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var n in clients)
        {
            foreach (var mode in new[] { WebSocketCompressionMode.Off, WebSocketCompressionMode.Shared, WebSocketCompressionMode.PerConnection })
            {
                Measure(mode, n, mode == WebSocketCompressionMode.PerConnection ? broadcasts : broadcasts * 10, print: true);
            }
        }
        Threshold();
    }

    private static void Measure(WebSocketCompressionMode mode, int clients, int broadcasts, bool print)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var rssBefore = process.WorkingSet64;
        var parameters = new PerMessageDeflateParameters(ServerNoContextTakeover: mode != WebSocketCompressionMode.PerConnection, ClientNoContextTakeover: false);
        var senders = new PerMessageDeflateSender?[clients];
        for (var i = 0; i < clients; i++)
        {
            senders[i] = mode == WebSocketCompressionMode.Off ? null : new PerMessageDeflateSender(parameters, mode);
        }
        var owned = new List<OutboundMessage>();

        // Warm-up broadcast: every per-connection compressor has seen one message (an "idle" connection after its
        // connected envelope), which is when its deflate state is fully in use.
        long bytes = 0;
        long deliveries = 0;
        var payloadLength = 0;
        var clock = new Stopwatch();
        for (var b = -1; b < broadcasts; b++)
        {
            if (b == 0)
            {
                process.Refresh();
                var rssAfter = process.WorkingSet64;
                s_rssPerConnection = (rssAfter - rssBefore) / 1024.0 / clients;
                clock.Start();
            }
            var message = Frame(DashboardEnvelope(b + 1), out payloadLength);
            for (var i = 0; i < clients; i++)
            {
                var frame = senders[i] is { } sender ? sender.Select(message, owned) : message.Frame;
                if (b >= 0)
                {
                    bytes += frame.Length;
                    deliveries++;
                }
                foreach (var o in owned)
                {
                    o.Release();
                }
                owned.Clear();
            }
            message.Release();
        }
        // One thread, CPU-bound, no I/O: elapsed time is the CPU time (process CPU time ticks too coarsely here).
        var cpu = clock.Elapsed;
        if (print)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {Name(mode)} | {clients:N0} | {payloadLength} | {bytes / (double)deliveries:F0} | {cpu.TotalMicroseconds / deliveries:F2} | {cpu.TotalMilliseconds / broadcasts:F2} | {s_rssPerConnection:F1} |"));
        }
        foreach (var sender in senders)
        {
            sender?.Dispose();
        }
    }

    private static double s_rssPerConnection;

    /// <summary>Compressed size on its own (no context) of real envelopes of growing size: where compression pays.</summary>
    private static void Threshold()
    {
        Console.WriteLine();
        Console.WriteLine("| envelope B | compressed B (own context) | saved | compress µs |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var content in new[] { 4, 60, 120, 200, 400, 800 })
        {
            var envelope = $"{{\"status\":\"broadcast\",\"message\":\"{new string('x', 0)}{Words(content)}\",\"channel_id\":\"7f1c5a52-3a43-4c59-a7a4-1d0bba3f2d4e\",\"timestamp\":\"2026-12-04T17:00:00.123Z\",\"data\":null,\"sequence\":1234}}";
            var payload = Encoding.UTF8.GetBytes(envelope);
            var sw = Stopwatch.StartNew();
            const int Rounds = 200;
            var compressedLength = 0;
            for (var r = 0; r < Rounds; r++)
            {
                compressedLength = CompressOnItsOwn(payload);
            }
            sw.Stop();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {payload.Length} | {compressedLength} | {payload.Length - compressedLength} | {sw.Elapsed.TotalMicroseconds / Rounds:F1} |"));
        }
    }

    // What the shared compressor does, without its threshold: a fresh raw-DEFLATE context, sync flush, minus 00 00 ff ff.
    private static int CompressOnItsOwn(byte[] payload)
    {
        using var output = new MemoryStream();
        using (var deflate = new System.IO.Compression.DeflateStream(output, PerMessageDeflateCompressor.Level, leaveOpen: true))
        {
            deflate.Write(payload);
            deflate.Flush();
            return (int)output.Length - 4;
        }
    }

    private static string Words(int length)
    {
        var words = new[] { "Turno", "A004", "caja", "3", "por", "favor", "acérquese", "a", "la", "ventanilla" };
        var sb = new StringBuilder();
        for (var i = 0; sb.Length < length; i++)
        {
            sb.Append(words[i % words.Length]).Append(' ');
        }
        return sb.ToString(0, length);
    }

    private static OutboundMessage Frame(string envelope, out int payloadLength)
    {
        using var builder = new FrameBuilder(WebSocketFrameEncoder.Instance);
        var bytes = Encoding.UTF8.GetBytes(envelope);
        bytes.CopyTo(builder.GetSpan(bytes.Length));
        builder.Advance(bytes.Length);
        payloadLength = bytes.Length;
        return builder.Build();
    }

    /// <summary>A 1-2 KB dashboard broadcast envelope, as the registry frames it.</summary>
    public static string DashboardEnvelope(int index)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{{\"status\":\"broadcast\",\"message\":\"Sales dashboard update {index}\",\"channel_id\":\"7f1c5a52-3a43-4c59-a7a4-1d0bba3f2d4e\",\"timestamp\":\"2026-12-04T17:00:{index % 60:D2}.123Z\",\"data\":{{\"region\":\"EMEA\",\"stores\":[");
        for (var store = 0; store < 16; store++)
        {
            if (store > 0)
            {
                sb.Append(',');
            }
            sb.Append(CultureInfo.InvariantCulture,
                $"{{\"store_id\":\"store-{store:D3}\",\"revenue\":{(index * 7919 + store * 104729) % 100000 / 100.0:F2},\"orders\":{(index + store * 31) % 500},\"status\":\"open\"}}");
        }
        sb.Append(CultureInfo.InvariantCulture, $"]}},\"sequence\":{index}}}");
        return sb.ToString();
    }

    private static string Name(WebSocketCompressionMode mode) => mode switch
    {
        WebSocketCompressionMode.Off => "off",
        WebSocketCompressionMode.Shared => "shared",
        _ => "per_connection",
    };
}
