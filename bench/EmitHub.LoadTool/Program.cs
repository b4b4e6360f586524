// emit-hub-load: WebSocket fan-out load generator for EmitHub and its Kestrel peer (bench/run-bench.sh).
//
//   emit-hub-load fanout --port 8080 --clients 1000 [--rate 0|broadcasts/s] [--duration 10] --server-pid PID
//   emit-hub-load idle   --port 8080 --clients 15000 --server-pid PID
//
// Prints one JSON line on stdout (machine-readable) and a human summary on stderr.
// `worker` is the internal mode of the child processes that hold slices of the clients.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using EmitHub.LoadTool;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine(Cli.Usage);
    return args.Length == 0 ? 2 : 0;
}
var mode = args[0];
Dictionary<string, string> opts;
try
{
    opts = Cli.Parse(args.AsSpan(1));
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
return mode switch
{
    "worker" => Worker.Run(opts),
    "fanout" or "idle" => Driver.Run(mode, opts),
    _ => Cli.Fail($"unknown mode '{mode}'"),
};

internal static class Cli
{
    public const string Usage = """
        usage: emit-hub-load <fanout|idle> [options]
          --host 127.0.0.1        server address (IPv4)
          --port 8080             server port (REST: channel creation and broadcasts go here)
          --ports 8081,8082,8083  cluster: spread the clients over these nodes' ports, one worker process or
                                  more per node (the channel is created on --port and awaited on every node)
          --clients 1000          WebSocket clients
          --server-pid PID        server process, for CPU seconds and RSS from /proc
          --channel ID            use an existing Active channel instead of creating one
          --rate 0                fanout: broadcasts/s on a fixed schedule; 0 = as fast as possible
          --duration 10           fanout: seconds of publishing
          --window 32             fanout max: broadcasts allowed ahead of the average client
          --inflight 32           concurrent broadcast requests (keep-alive connections)
          --size 32               content bytes per broadcast (>= 32): "T<due us>|S<n>|" padded with x
          --drain 15              fanout: max seconds to wait for deliveries after publishing
          --settle 5              idle: seconds to wait after all connected before reading RSS
          --hold 0                idle: then hold the idle connections this many seconds more (keepalive pings flow) and read RSS again
          --src-ips 16            spread clients over source addresses 127.0.0.1..127.0.0.N
          --max-per-worker 8000   clients per process (the open-file limit is 20,000)
          --threads 1             epoll threads per process
          --connect-concurrency 256  handshakes in flight per process
          --connect-timeout 120   seconds to wait for every client's `connected`
          --persist false         create the channel with persist_messages (EmitHub's FASTER log)
          --label NAME            copied into the JSON line
        """;

    public static Dictionary<string, string> Parse(ReadOnlySpan<string> a)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < a.Length; i++)
        {
            if (!a[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= a.Length)
            {
                throw new ArgumentException($"expected --name value, got '{a[i]}'");
            }
            d[a[i][2..]] = a[++i];
        }
        return d;
    }

    public static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        Console.Error.WriteLine(Usage);
        return 2;
    }

    public static string Get(this Dictionary<string, string> o, string name, string def) =>
        o.TryGetValue(name, out var v) ? v : def;

    public static int GetInt(this Dictionary<string, string> o, string name, int def) =>
        o.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : def;

    public static double GetDouble(this Dictionary<string, string> o, string name, double def) =>
        o.TryGetValue(name, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : def;
}

/// <summary>Child process: holds one slice of clients, answers STAT and CLOSE on stdin.</summary>
internal static class Worker
{
    public static int Run(Dictionary<string, string> o)
    {
        var set = new ClientSet(Driver.ClientOptionsFrom(o, o.GetInt("first", 0), o.GetInt("clients", 0)));
        set.Start();
        var deadline = Clock.NowUs() + o.GetInt("connect-timeout", 120) * 1_000_000L;
        while (!set.Settled && Clock.NowUs() < deadline)
        {
            Thread.Sleep(20);
        }
        var stdout = Console.Out;
        stdout.WriteLine($"READY {set.Connected} {set.Failed}");
        stdout.Flush();
        string? line;
        while ((line = Console.In.ReadLine()) is not null)
        {
            if (line == "STAT")
            {
                stdout.WriteLine($"STAT {set.Delivered} {set.Connected} {set.Failed} {set.Closed}");
                stdout.Flush();
            }
            else if (line == "CLOSE")
            {
                break;
            }
        }
        set.Shutdown(1000);
        stdout.WriteLine($"RESULT {set.Result().Encode()}");
        stdout.Flush();
        set.Dispose();
        return 0;
    }
}

/// <summary>Parent process: creates the channel, spreads clients over itself and worker processes,
/// publishes, drains and reports.</summary>
internal static class Driver
{
    public static ClientOptions ClientOptionsFrom(Dictionary<string, string> o, int first, int count)
    {
        var host = o.Get("host", "127.0.0.1");
        return new ClientOptions(
            IPAddress.Parse(host).GetAddressBytes(), o.GetInt("port", 8080), host, o.Get("path", "/"), count, first,
            o.GetInt("src-ips", 16), o.GetInt("threads", 1), o.GetInt("connect-concurrency", 256));
    }

    public static int Run(string mode, Dictionary<string, string> o)
    {
        var host = o.Get("host", "127.0.0.1");
        var port = o.GetInt("port", 8080);
        var clients = o.GetInt("clients", 1000);
        var serverPid = o.GetInt("server-pid", 0);
        var ip = IPAddress.Parse(host);
        using var http = new HttpConn(ip, host, port);

        var channelId = o.Get("channel", "");
        if (channelId.Length == 0)
        {
            var create = $$$"""{"name":"bench-{{{mode}}}-{{{clients}}}","settings":{"max_connections":{{{clients + 64}}},"rate_limit_per_minute":0,"persist_messages":{{{(o.Get("persist", "false") == "true" ? "true" : "false")}}},"allow_client_messages":false}}""";
            var (st, body) = http.Send("POST", "/api/v1/channels", create);
            channelId = st == 201 ? HttpConn.JsonString(body, "id") ?? "" : "";
            if (channelId.Length == 0)
            {
                Console.Error.WriteLine($"create channel failed: {st} {body}");
                return 1;
            }
            (st, body) = http.Send("PUT", $"/api/v1/channels/{channelId}/start", null);
            if (st != 200)
            {
                Console.Error.WriteLine($"start channel failed: {st} {body}");
                return 1;
            }
        }
        var wsPath = $"/api/v1/channels/{channelId}/ws";
        o["path"] = wsPath;
        var ports = o.Get("ports", "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        if (ports.Length == 0)
        {
            ports = [port];
        }
        o.Remove("ports");
        if (ports.Length > 1 && !AwaitChannelOnNodes(ip, host, ports, channelId))
        {
            return 1;
        }

        var rssBefore = Proc.RssKb(serverPid);
        var maxPerWorker = Math.Max(1, o.GetInt("max-per-worker", 8000));
        var processes = Math.Max(1, o.GetInt("workers", (clients + maxPerWorker - 1) / maxPerWorker));
        // Every node gets the same number of client processes (so the same number of clients, ±1 per process).
        processes = (processes + ports.Length - 1) / ports.Length * ports.Length;
        o["port"] = ports[0].ToString(CultureInfo.InvariantCulture);
        var sliceSizes = Enumerable.Range(0, processes).Select(i => clients / processes + (i < clients % processes ? 1 : 0)).ToArray();

        var connectStartUs = Clock.NowUs();
        var serverCpuConnect0 = Proc.CpuSeconds(serverPid);
        using var local = new ClientSet(ClientOptionsFrom(o, 0, sliceSizes[0]));
        local.Start();
        var workers = new List<Process>();
        var first = sliceSizes[0];
        for (var w = 1; w < processes; w++)
        {
            var psi = new ProcessStartInfo(Environment.ProcessPath!)
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            psi.ArgumentList.Add("worker");
            psi.ArgumentList.Add("--port");
            psi.ArgumentList.Add(ports[w % ports.Length].ToString(CultureInfo.InvariantCulture));
            foreach (var (k, v) in o)
            {
                if (k is not ("clients" or "first" or "port"))
                {
                    psi.ArgumentList.Add("--" + k);
                    psi.ArgumentList.Add(v);
                }
            }
            psi.ArgumentList.Add("--first");
            psi.ArgumentList.Add(first.ToString(CultureInfo.InvariantCulture));
            psi.ArgumentList.Add("--clients");
            psi.ArgumentList.Add(sliceSizes[w].ToString(CultureInfo.InvariantCulture));
            first += sliceSizes[w];
            workers.Add(Process.Start(psi)!);
        }
        try
        {
            return RunMeasured(mode, o, http, channelId, local, workers, clients, serverPid, rssBefore, connectStartUs, serverCpuConnect0);
        }
        finally
        {
            foreach (var w in workers)
            {
                if (!w.HasExited)
                {
                    w.Kill();
                }
                w.Dispose();
            }
        }
    }

    /// <summary>Cluster runs: waits (up to 10 s) until every node serves the channel as Active, since the change
    /// reaches the other nodes through NATS a moment after the creating node answered.</summary>
    private static bool AwaitChannelOnNodes(IPAddress ip, string host, int[] ports, string channelId)
    {
        foreach (var nodePort in ports)
        {
            using var node = new HttpConn(ip, host, nodePort);
            var deadline = Clock.NowUs() + 10_000_000L;
            while (true)
            {
                var (st, body) = node.Send("GET", $"/api/v1/channels/{channelId}", null);
                if (st == 200 && body.Contains("\"status\":\"Active\"", StringComparison.Ordinal))
                {
                    break;
                }
                if (Clock.NowUs() > deadline)
                {
                    Console.Error.WriteLine($"channel {channelId} not Active on port {nodePort} within 10 s: {st} {body}");
                    return false;
                }
                Thread.Sleep(20);
            }
        }
        return true;
    }

    private static int RunMeasured(string mode, Dictionary<string, string> o, HttpConn http, string channelId, ClientSet local,
        List<Process> workers, int clients, int serverPid, long rssBefore, long connectStartUs, double serverCpuConnect0)
    {
        // Wait until every client is connected (got `connected`) or failed.
        var connectTimeout = o.GetInt("connect-timeout", 120);
        var readyTasks = workers.Select(w => w.StandardOutput.ReadLineAsync()).ToArray();
        var deadline = Clock.NowUs() + connectTimeout * 1_000_000L;
        while (!local.Settled && Clock.NowUs() < deadline)
        {
            Thread.Sleep(20);
        }
        Task.WaitAll(readyTasks, TimeSpan.FromSeconds(connectTimeout + 5));
        long connected = local.Connected, failed = local.Failed;
        foreach (var t in readyTasks)
        {
            var p = (t.IsCompletedSuccessfully ? t.Result : null)?.Split(' ');
            if (p is { Length: 3 } && p[0] == "READY")
            {
                connected += long.Parse(p[1]);
                failed += long.Parse(p[2]);
            }
        }
        var connectSeconds = (Clock.NowUs() - connectStartUs) / 1e6;
        Console.Error.WriteLine($"connected {connected}/{clients} (failed {failed}) in {connectSeconds:F1}s over {workers.Count + 1} process(es)");

        var result = new Dictionary<string, object?>
        {
            ["tool"] = "emit-hub-load",
            ["mode"] = mode,
            ["label"] = o.Get("label", ""),
            ["persist"] = o.Get("persist", "false") == "true" ? "true" : "false",
            ["clients"] = clients,
            ["connected"] = connected,
            ["failed"] = failed,
            ["processes"] = workers.Count + 1,
            ["connect_s"] = Math.Round(connectSeconds, 2),
        };

        int exit;
        if (mode == "idle")
        {
            Thread.Sleep(TimeSpan.FromSeconds(o.GetDouble("settle", 5)));
            var rssAfter = Proc.RssKb(serverPid);
            result["server_rss_kb_before"] = rssBefore;
            result["server_rss_kb_after"] = rssAfter;
            result["kb_per_connection"] = connected > 0 && rssBefore >= 0 ? Math.Round((rssAfter - rssBefore) / (double)connected, 2) : null;
            result["server_cpu_s"] = Math.Round(Proc.CpuSeconds(serverPid) - serverCpuConnect0, 2);
            result["tool_cpu_s"] = Math.Round(ToolCpu(workers), 2);
            // --hold S: keep the connections idle S seconds more (the server's keepalive pings flow and are answered)
            // and measure again: what a connection costs once the handshake storm's garbage is gone.
            var hold = o.GetDouble("hold", 0);
            if (hold > 0)
            {
                var cpuHold0 = Proc.CpuSeconds(serverPid);
                Thread.Sleep(TimeSpan.FromSeconds(hold));
                var rssHeld = Proc.RssKb(serverPid);
                result["hold_s"] = hold;
                result["server_rss_kb_held"] = rssHeld;
                result["kb_per_connection_held"] = connected > 0 && rssBefore >= 0 ? Math.Round((rssHeld - rssBefore) / (double)connected, 2) : null;
                result["server_cpu_s_held"] = Math.Round(Proc.CpuSeconds(serverPid) - cpuHold0, 2);
            }
            exit = connected == clients ? 0 : 3;
            Finish(workers, local, null);
        }
        else
        {
            exit = Fanout(o, channelId, local, workers, connected, serverPid, result);
        }
        Console.Out.WriteLine(ToJson(result));
        Console.Out.Flush();
        PrintHuman(result);
        return exit;
    }

    private static int Fanout(Dictionary<string, string> o, string channelId, ClientSet local, List<Process> workers,
        long connected, int serverPid, Dictionary<string, object?> result)
    {
        var rate = o.GetDouble("rate", 0);
        var duration = o.GetDouble("duration", 10);
        var size = Math.Max(32, o.GetInt("size", 32));
        var inflight = o.GetInt("inflight", 32);
        var window = o.GetInt("window", 32);
        var drain = o.GetDouble("drain", 15);
        var host = o.Get("host", "127.0.0.1");
        var publisher = new Publisher(IPAddress.Parse(host), host, o.GetInt("port", 8080),
            $"/api/v1/channels/{channelId}/broadcast", size, inflight);

        var serverCpu0 = Proc.CpuSeconds(serverPid);
        var toolCpu0 = ToolCpu(workers);
        var t0 = Clock.NowUs();
        var pub = rate > 0
            ? publisher.RunFixed(rate, duration, t0)
            : publisher.RunMax(duration, window, local);
        var publishEndUs = Clock.NowUs();

        // Drain: until every expected delivery arrived, nothing moved for 2 s, or the drain limit.
        var expected = pub.Ok * connected;
        long delivered = 0, lastDelivered = -1;
        var lastProgressUs = Clock.NowUs();
        var drainDeadline = publishEndUs + (long)(drain * 1e6);
        while (true)
        {
            delivered = local.Delivered + workers.Sum(w => Stat(w));
            var now = Clock.NowUs();
            if (delivered != lastDelivered)
            {
                lastDelivered = delivered;
                lastProgressUs = now;
            }
            if (delivered >= expected || now - lastProgressUs > 2_000_000 || now > drainDeadline)
            {
                break;
            }
            Thread.Sleep(50);
        }
        var serverCpu = Proc.CpuSeconds(serverPid) - serverCpu0;
        var toolCpu = ToolCpu(workers) - toolCpu0;
        var rssAfter = Proc.RssKb(serverPid);
        var total = Finish(workers, local, null);

        var elapsed = Math.Max(1e-6, (total.LastDeliveryUs - t0) / 1e6);
        var h = total.Histogram;
        result["rate_target"] = rate;
        result["duration_s"] = duration;
        result["size"] = size;
        result["inflight"] = pub.Inflight;
        result["window"] = rate > 0 ? null : window;
        result["broadcasts_ok"] = pub.Ok;
        result["broadcasts_failed"] = pub.Failed;
        result["broadcast_rate"] = Math.Round(pub.Ok / Math.Max(1e-6, (publishEndUs - t0) / 1e6), 1);
        result["recipients_reported"] = pub.Recipients;
        result["expected"] = expected;
        result["delivered"] = total.Delivered;
        result["lost"] = Math.Max(0, expected - total.Delivered);
        result["gaps"] = total.Gaps;
        result["order_violations"] = total.OrderViolations;
        result["closed_by_server"] = total.ClosedByServer;
        result["frames_per_read"] = total.Reads > 0 ? Math.Round(total.Delivered / (double)total.Reads, 2) : null;
        result["unexpected_frames"] = total.Unexpected;
        result["elapsed_s"] = Math.Round(elapsed, 3);
        result["deliveries_per_s"] = Math.Round(total.Delivered / elapsed);
        result["latency_us"] = new Dictionary<string, object?>
        {
            ["p50"] = h.Percentile(50),
            ["p90"] = h.Percentile(90),
            ["p99"] = h.Percentile(99),
            ["p999"] = h.Percentile(99.9),
            ["max"] = h.Max,
            ["mean"] = h.Total > 0 ? Math.Round(h.Sum / h.Total) : 0,
        };
        result["server_cpu_s"] = Math.Round(serverCpu, 2);
        result["tool_cpu_s"] = Math.Round(toolCpu, 2);
        result["server_cpu_us_per_delivery"] = total.Delivered > 0 ? Math.Round(serverCpu * 1e6 / total.Delivered, 3) : null;
        result["tool_cpu_us_per_delivery"] = total.Delivered > 0 ? Math.Round(toolCpu * 1e6 / total.Delivered, 3) : null;
        result["server_rss_kb_after"] = rssAfter;
        return total.Delivered > 0 ? 0 : 3;
    }

    private static long Stat(Process w)
    {
        w.StandardInput.WriteLine("STAT");
        w.StandardInput.Flush();
        var p = w.StandardOutput.ReadLine()?.Split(' ');
        return p is { Length: > 1 } && p[0] == "STAT" ? long.Parse(p[1]) : 0;
    }

    private static SliceResult Finish(List<Process> workers, ClientSet local, object? _)
    {
        foreach (var w in workers)
        {
            w.StandardInput.WriteLine("CLOSE");
            w.StandardInput.Flush();
        }
        local.Shutdown(1000);
        var total = local.Result();
        foreach (var w in workers)
        {
            string? line;
            while ((line = w.StandardOutput.ReadLine()) is not null)
            {
                if (line.StartsWith("RESULT ", StringComparison.Ordinal))
                {
                    total.Add(SliceResult.Decode(line[7..]));
                    break;
                }
            }
            w.WaitForExit(5000);
        }
        return total;
    }

    private static double ToolCpu(List<Process> workers) =>
        Proc.CpuSeconds(Environment.ProcessId) + workers.Sum(w => w.HasExited ? 0 : Proc.CpuSeconds(w.Id));

    private static string ToJson(Dictionary<string, object?> d)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            Write(w, d);
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static void Write(Utf8JsonWriter w, Dictionary<string, object?> d)
    {
        w.WriteStartObject();
        foreach (var (k, v) in d)
        {
            w.WritePropertyName(k);
            switch (v)
            {
                case null: w.WriteNullValue(); break;
                case string s: w.WriteStringValue(s); break;
                case int i: w.WriteNumberValue(i); break;
                case long l: w.WriteNumberValue(l); break;
                case double x when double.IsFinite(x): w.WriteNumberValue(x); break;
                case double: w.WriteNullValue(); break;
                case Dictionary<string, object?> sub: Write(w, sub); break;
                default: w.WriteStringValue(v.ToString()); break;
            }
        }
        w.WriteEndObject();
    }

    private static void PrintHuman(Dictionary<string, object?> r)
    {
        var e = Console.Error;
        if ((string)r["mode"]! == "idle")
        {
            e.WriteLine($"idle: {r["connected"]}/{r["clients"]} connected; server RSS {r["server_rss_kb_before"]} -> {r["server_rss_kb_after"]} KB = {r["kb_per_connection"]} KB/connection");
            if (r.TryGetValue("hold_s", out var held) && held is not null)
            {
                e.WriteLine($"  after {held} s more: server RSS {r["server_rss_kb_held"]} KB = {r["kb_per_connection_held"]} KB/connection, server CPU {r["server_cpu_s_held"]} s");
            }
        }
        else
        {
            var l = (Dictionary<string, object?>)r["latency_us"]!;
            e.WriteLine($"fanout: {r["connected"]} clients, {r["broadcasts_ok"]} broadcasts ({r["broadcast_rate"]}/s, target {r["rate_target"]}/s, 0=max)");
            e.WriteLine($"  delivered {r["delivered"]}/{r["expected"]} (lost {r["lost"]}, order violations {r["order_violations"]}) in {r["elapsed_s"]} s = {r["deliveries_per_s"]:N0} deliveries/s");
            e.WriteLine($"  latency us: p50 {l["p50"]}  p99 {l["p99"]}  p99.9 {l["p999"]}  max {l["max"]}");
            var server = r["server_cpu_s"] is double cpu && !double.IsNaN(cpu)
                ? $"server {cpu} s ({r["server_cpu_us_per_delivery"]} us/delivery)"
                : "server not measured (no --server-pid)";
            e.WriteLine($"  CPU: {server}, tool {r["tool_cpu_s"]} s ({r["tool_cpu_us_per_delivery"]} us/delivery)");
        }
    }
}
