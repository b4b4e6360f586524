using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using EmitHub.Core.Channels;
using EmitHub.Net.Server;

namespace EmitHub.Benchmarks;

/// <summary>
/// What an idle upgraded WebSocket holds on the server, as BenchmarkDotNet rows (issue 10: "bytes held per idle
/// connection"). <see cref="GlobalSetup"/> starts the real <see cref="HubServer"/> in the benchmark process (in-memory
/// store, one channel, keepalive pings pushed out to an hour), warms it up with 200 connections, then opens
/// <see cref="Connections"/> WebSockets from a child process (plain sockets, so no client object lands on the
/// server's heap) and takes a forced compacting gen-2 GC before and after. The columns <c>Held B/conn</c> (managed:
/// <see cref="GC.GetTotalMemory"/> delta / N) and <c>RSS B/conn</c> (VmRSS delta / N) come from that measurement.
/// The timed operation is one more client's whole visit beside the N idle ones: TCP connect, upgrade request, 101,
/// the <c>connected</c> envelope, then an abortive close — what a reconnect storm repeats N times.
/// <code>dotnet run -c Release --project bench/EmitHub.Benchmarks -- --filter '*IdleConnectionBenchmarks*'</code>
/// </summary>
[MemoryDiagnoser]
[Config(typeof(HeldColumnsConfig))]
public class IdleConnectionBenchmarks
{
    private static readonly byte[] ConnectedMarker = "\"connected\""u8.ToArray();

    private ChannelRegistry _registry = null!;
    private HubServer _server = null!;
    private System.Diagnostics.Process _clients = null!;
    private IPEndPoint _endPoint = null!;
    private byte[] _request = null!;
    private readonly byte[] _buffer = new byte[4096];

    /// <summary>Idle WebSockets held open on the channel while the operation runs.</summary>
    [Params(1_000, 10_000)]
    public int Connections { get; set; }

    [GlobalSetup]
    public async Task GlobalSetup()
    {
        string path;
        (_registry, _server, path) = await IdleReport.StartHubAsync();
        var port = _server.LocalEndPoint.Port.ToString(CultureInfo.InvariantCulture);
        _endPoint = new IPEndPoint(IPAddress.Loopback, _server.LocalEndPoint.Port);
        _request = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
        await IdleReport.WarmUpAsync(_server, port, path);
        var before = IdleReport.TakeSnapshot();
        _clients = await IdleReport.StartClientsAsync(_server, port, path, Connections);
        // Let the last sends finish their bookkeeping before the heap is looked at.
        await Task.Delay(1000);
        var after = IdleReport.TakeSnapshot();
        var open = _server.ConnectionCount;
        var managed = (after.Managed - before.Managed) / (double)open;
        var rss = (after.Rss - before.Rss) / (double)open;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"// idle WebSockets: {open}, managed held {managed:F0} B/conn, RSS {rss:F0} B/conn"));
        HeldColumnsConfig.Write(Connections, managed, rss);
    }

    [GlobalCleanup]
    public async Task GlobalCleanup()
    {
        await IdleReport.StopClientsAsync(_clients);
        _clients.Dispose();
        await _server.DisposeAsync();
        await _registry.DisposeAsync();
    }

    /// <summary>One more client connects, upgrades, reads its <c>connected</c> envelope and resets the connection.</summary>
    [Benchmark]
    public int ConnectUpgradeAndLeave()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        // An abortive close (RST) leaves no TIME_WAIT behind, so thousands of visits do not exhaust ephemeral ports.
        socket.LingerState = new LingerOption(true, 0);
        socket.NoDelay = true;
        socket.Connect(_endPoint);
        socket.Send(_request);
        var received = 0;
        while (true)
        {
            var read = socket.Receive(_buffer, received, _buffer.Length - received, SocketFlags.None);
            if (read == 0)
            {
                throw new InvalidOperationException("The server closed before 'connected': " + Encoding.ASCII.GetString(_buffer, 0, received));
            }
            received += read;
            if (_buffer.AsSpan(0, received).IndexOf(ConnectedMarker) >= 0)
            {
                return received;
            }
        }
    }

    /// <summary>Adds the two held-bytes columns, read from the files <see cref="GlobalSetup"/> writes (it runs in
    /// the benchmark's child process; the summary is built in the host).</summary>
    private sealed class HeldColumnsConfig : ManualConfig
    {
        private static readonly string Directory = Path.Combine(Path.GetTempPath(), "emithub-bench-idle-held");

        public HeldColumnsConfig()
        {
            AddColumn(new HeldColumn("Held B/conn", 0, "Managed bytes held per idle WebSocket: GC.GetTotalMemory delta after N connects / N"));
            AddColumn(new HeldColumn("RSS B/conn", 1, "Server RSS (VmRSS) delta after N connects / N, after a forced compacting GC"));
        }

        public static void Write(int connections, double managed, double rss)
        {
            System.IO.Directory.CreateDirectory(Directory);
            File.WriteAllText(Path.Combine(Directory, connections.ToString(CultureInfo.InvariantCulture)),
                string.Create(CultureInfo.InvariantCulture, $"{managed:F0} {rss:F0}"));
        }

        private sealed class HeldColumn(string name, int position, string legend) : IColumn
        {
            public string Id => "EmitHub." + name;
            public string ColumnName => name;
            public bool AlwaysShow => true;
            public ColumnCategory Category => ColumnCategory.Custom;
            public int PriorityInCategory => position;
            public bool IsNumeric => true;
            public UnitType UnitType => UnitType.Dimensionless;
            public string Legend => legend;

            public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
            {
                var connections = benchmarkCase.Parameters[nameof(Connections)];
                var file = Path.Combine(Directory, Convert.ToString(connections, CultureInfo.InvariantCulture)!);
                return File.Exists(file) ? File.ReadAllText(file).Split(" ")[position] : "?";
            }

            public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);
            public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
            public bool IsAvailable(Summary summary) => true;
        }
    }
}
