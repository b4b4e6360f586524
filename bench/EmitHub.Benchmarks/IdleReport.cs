using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime;
using System.Text;
using EmitHub.Core.Channels;
using EmitHub.Core.Configuration;
using EmitHub.Core.Storage;
using EmitHub.Net.Server;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmitHub.Benchmarks;

/// <summary>
/// Memory held per idle upgraded WebSocket, measured on the real server in-process: a <see cref="HubServer"/> over an
/// in-memory store on a free loopback port, N raw clients in a child process (plain sockets sending a handshake, so no
/// client object pollutes the server's heap) each waiting for its <c>connected</c> envelope, then a full blocking
/// compacting GC. Reports, per connection: managed bytes (<see cref="GC.GetTotalMemory"/> delta / N), GC heap size
/// delta (<see cref="GCMemoryInfo.HeapSizeBytes"/>), and RSS delta (/proc/self/status VmRSS). Each N runs in a fresh
/// server process (a re-exec of this program), so one run's heap does not carry into the next. Keepalive pings are
/// pushed out to an hour so the measurement sees idle connections only.
/// <code>dotnet run -c Release --project bench/EmitHub.Benchmarks -- idle-report [clients...]   (default 1000 10000)</code>
/// </summary>
public static class IdleReport
{
    internal const int WarmUpClients = 200;

    public static void Run(string[] args)
    {
        var counts = args.Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToList();
        if (counts.Count == 0)
        {
            counts.AddRange([1_000, 10_000]);
        }
        Console.WriteLine($"GC: server={GCSettings.IsServerGC} concurrent={AppContext.GetData("System.GC.Concurrent") ?? "default"} (each N in a fresh process)");
        Console.WriteLine("| clients | managed B/conn (GetTotalMemory) | GC heap B/conn (HeapSizeBytes) | RSS B/conn | connect s |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var n in counts)
        {
            using var server = Self("idle-server", n.ToString(CultureInfo.InvariantCulture));
            server.Start();
            var line = server.StandardOutput.ReadToEnd();
            server.WaitForExit();
            Console.Write(line);
            if (server.ExitCode != 0)
            {
                throw new InvalidOperationException($"idle-server {n} failed with exit code {server.ExitCode}.");
            }
        }
    }

    /// <summary>The server side of one measurement (a child of <see cref="Run"/>): prints one table row.</summary>
    public static async Task ServerAsync(string[] args)
    {
        var n = int.Parse(args[0], CultureInfo.InvariantCulture);
        var (registry, server, path) = await StartHubAsync();
        await using var _ = server;
        var port = server.LocalEndPoint.Port.ToString(CultureInfo.InvariantCulture);

        await WarmUpAsync(server, port, path);

        var before = TakeSnapshot();
        var watch = Stopwatch.StartNew();
        HeapSnapshot? after = null;
        await ConnectClientsAsync(server, port, path, n, () =>
        {
            var connect = watch.Elapsed;
            // Let the last sends finish their bookkeeping before the heap is looked at.
            Thread.Sleep(1000);
            after = TakeSnapshot();
            return connect;
        }, row: (connect, open) =>
        {
            var a = after!.Value;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {n:N0} | {(a.Managed - before.Managed) / (double)n:F0} | {(a.Heap - before.Heap) / (double)n:F0} | {(a.Rss - before.Rss) / (double)n:F0} | {connect.TotalSeconds:F2} |"));
            if (open != n)
            {
                Console.WriteLine($"(server saw {open} connections, expected {n})");
            }
        });
        await registry.DisposeAsync();
    }

    /// <summary>
    /// A started <see cref="HubServer"/> on a free loopback port over an in-memory store, with one active channel that
    /// admits a million subscribers; keepalive pings pushed out to an hour. Returns the WebSocket path of that channel.
    /// </summary>
    internal static async Task<(ChannelRegistry Registry, HubServer Server, string Path)> StartHubAsync()
    {
        var o = new EmitHubOptions { Host = "127.0.0.1", Port = 0 };
        o.WebSocket.PingInterval = 3600;
        o.MaxConnectionsPerChannel = 1_000_000;
        var options = new LiveOptions(o);
        var registry = new ChannelRegistry(options, new InMemoryChannelStore(), EmitHub.Net.WebSockets.WebSocketFrameEncoder.Instance,
            TimeProvider.System, NullLogger<ChannelRegistry>.Instance);
        await registry.InitializeAsync(CancellationToken.None);
        var id = (await registry.CreateAsync(new ChannelCreateRequest("idle", null, new ChannelSettingsPatch(1_000_000, null, null, null, null)),
            default)).Channel!.Id;
        await registry.StartAsync(id, default);
        var server = new HubServer(options, registry, new StderrLoggerFactory(), TimeProvider.System);
        await server.StartAsync(CancellationToken.None);
        return (registry, server, $"/api/v1/channels/{id}/ws");
    }

    internal readonly record struct HeapSnapshot(long Managed, long Heap, long Rss);

    internal static HeapSnapshot TakeSnapshot()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var managed = GC.GetTotalMemory(forceFullCollection: true);
        var heap = GC.GetGCMemoryInfo(GCKind.FullBlocking).HeapSizeBytes;
        return new HeapSnapshot(managed, heap, ReadRss());
    }

    private static long ReadRss()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }
        return Environment.WorkingSet;
    }

    private static async Task ConnectClientsAsync(HubServer server, string port, string path, int n, Func<TimeSpan>? measure,
        Action<TimeSpan, int>? row = null)
    {
        using var clients = await StartClientsAsync(server, port, path, n);
        var open = server.ConnectionCount;
        if (measure is not null)
        {
            var connect = measure();
            row?.Invoke(connect, open);
        }
        await StopClientsAsync(clients);
    }

    /// <summary>JIT, thread pool, pools and the subscriber set's growth happen once, outside a measurement:
    /// <see cref="WarmUpClients"/> clients connect and leave again.</summary>
    internal static async Task WarmUpAsync(HubServer server, string port, string path)
    {
        await ConnectClientsAsync(server, port, path, WarmUpClients, measure: null);
        await WaitForAsync(() => server.ConnectionCount == 0);
    }

    /// <summary>Starts the client child process and returns once its N WebSockets are open and the server counts
    /// them. Stop it with <see cref="StopClientsAsync"/>.</summary>
    internal static async Task<Process> StartClientsAsync(HubServer server, string port, string path, int n)
    {
        var clients = Self("idle-clients", port, path, n.ToString(CultureInfo.InvariantCulture));
        clients.Start();
        var ready = await clients.StandardOutput.ReadLineAsync();
        if (ready != "ready")
        {
            clients.Dispose();
            throw new InvalidOperationException($"idle-clients: {ready}");
        }
        await WaitForAsync(() => server.ConnectionCount >= n);
        return clients;
    }

    /// <summary>Tells the client child process to close its sockets and waits for it to exit.</summary>
    internal static async Task StopClientsAsync(Process clients)
    {
        await clients.StandardInput.WriteLineAsync("exit");
        await clients.StandardInput.FlushAsync();
        await clients.WaitForExitAsync();
    }

    internal static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
    }

    /// <summary>The client side (a child process): opens N WebSockets, waits for every <c>connected</c> envelope,
    /// prints <c>ready</c>, and holds them open until a line arrives on standard input.</summary>
    public static async Task ClientsAsync(string[] args)
    {
        var endPoint = new IPEndPoint(IPAddress.Loopback, int.Parse(args[0], CultureInfo.InvariantCulture));
        var path = args[1];
        var n = int.Parse(args[2], CultureInfo.InvariantCulture);
        var request = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
        var sockets = new Socket[n];
        using var gate = new SemaphoreSlim(128);
        var tasks = new Task[n];
        for (var i = 0; i < n; i++)
        {
            var index = i;
            await gate.WaitAsync();
            tasks[i] = Task.Run(async () =>
            {
                try
                {
                    sockets[index] = await OpenAsync(endPoint, request);
                }
                catch (Exception e)
                {
                    Console.Error.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} client {index}: {e.Message}");
                    throw;
                }
                finally
                {
                    gate.Release();
                }
            });
        }
        await Task.WhenAll(tasks);
        Console.WriteLine("ready");
        await Console.In.ReadLineAsync();
        foreach (var socket in sockets)
        {
            socket.Dispose();
        }
    }

    private static async Task<Socket> OpenAsync(IPEndPoint endPoint, byte[] request)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint);
        await socket.SendAsync(request);
        var received = new List<byte>();
        var buffer = new byte[4096];
        var marker = "\"connected\""u8.ToArray();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (received.Count == 0 || received.ToArray().AsSpan().IndexOf(marker) < 0)
        {
            int read;
            try
            {
                read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            }
            catch (SocketException e)
            {
                throw new InvalidOperationException($"{e.SocketErrorCode} after: " + Encoding.ASCII.GetString(received.ToArray()), e);
            }
            if (read == 0)
            {
                throw new InvalidOperationException("The server closed before 'connected': " + Encoding.ASCII.GetString(received.ToArray()));
            }
            received.AddRange(buffer.AsSpan(0, read));
        }
        return socket;
    }

    private static Process Self(params string[] args)
    {
        var info = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = false,
            UseShellExecute = false,
        };
        // Always through the muxer: under BenchmarkDotNet this process is the generated runner, whose Main does not
        // know the idle-* commands.
        var host = Environment.ProcessPath!;
        info.FileName = Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        info.ArgumentList.Add(typeof(IdleReport).Assembly.Location);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        return new Process { StartInfo = info };
    }
}

/// <summary>Warnings and errors of the measured server, on standard error (a failed join shows up instead of a hang).</summary>
internal sealed class StderrLoggerFactory : Microsoft.Extensions.Logging.ILoggerFactory, Microsoft.Extensions.Logging.ILogger
{
    public void AddProvider(Microsoft.Extensions.Logging.ILoggerProvider provider) { }
    public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => this;
    public void Dispose() { }
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => logLevel >= Microsoft.Extensions.Logging.LogLevel.Warning;
    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        => Console.Error.WriteLine($"{logLevel}: {formatter(state, exception)} {exception}");
}
