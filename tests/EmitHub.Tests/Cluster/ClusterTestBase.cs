using System.Net.WebSockets;
using System.Text.Json;
using EmitHub.Tests.Persistence;
using EmitHub.Tests.Storage;
using Xunit.Abstractions;

namespace EmitHub.Tests.Cluster;

/// <summary>
/// Real processes for cluster tests (issue 11): one NATS server (or three in a NATS cluster) with JetStream on a
/// temporary file store, and three real <c>emit-hub</c> nodes (A, B, C) joined through it with
/// <c>EMIT_HUB_CLUSTER_NATS_URL</c>. Every process is killed at the end; their output is attached to the test result.
/// Runs in the serial process collection with the other tests that start servers.
/// </summary>
public abstract class ClusterTestBase : IAsyncLifetime
{
    private readonly TempStoreDirectory _dir = new();
    private readonly ITestOutputHelper _output;

    private protected ClusterTestBase(ITestOutputHelper output)
    {
        _output = output;
        Directory.CreateDirectory(_dir.Path);
    }

    private protected List<NatsServerProcess> Nats { get; } = [];
    private protected List<ServerProcess> Nodes { get; } = [];
    private protected ServerProcess A => Nodes[0];
    private protected ServerProcess B => Nodes[1];
    private protected ServerProcess C => Nodes[2];

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Starts one NATS server with JetStream.</summary>
    private protected async Task StartNatsAsync()
    {
        var nats = new NatsServerProcess(Path.Combine(_dir.Path, "nats"));
        Nats.Add(nats);
        await nats.StartAsync();
    }

    /// <summary>Starts a 3-server NATS cluster with JetStream; returns once all three are ready.</summary>
    private protected async Task StartNatsClusterAsync()
    {
        var clusterPorts = Enumerable.Range(0, 3).Select(_ => Config.EmitHubProcess.FreePort()).ToArray();
        for (var i = 0; i < 3; i++)
        {
            Nats.Add(new NatsServerProcess(Path.Combine(_dir.Path, $"nats{i}"), $"n{i}", clusterPorts[i], clusterPorts));
        }
        await Task.WhenAll(Nats.Select(n => n.StartAsync()));
    }

    /// <summary>Starts the three nodes A, B, C on <paramref name="natsUrl"/> (default: every NATS server started), with
    /// <paramref name="extraEnvironment"/> added to each node's environment.</summary>
    private protected async Task StartNodesAsync(int replicas = 1, string? natsUrl = null, IReadOnlyDictionary<string, string>? extraEnvironment = null)
    {
        natsUrl ??= string.Join(',', Nats.Select(n => n.Url));
        var starts = new List<Task>();
        foreach (var name in new[] { "a", "b", "c" })
        {
            var node = new ServerProcess(Path.Combine(_dir.Path, "db-" + name), _dir.Path);
            Nodes.Add(node);
            var environment = NodeEnvironment(name, natsUrl, replicas);
            foreach (var (key, value) in extraEnvironment ?? new Dictionary<string, string>())
            {
                environment[key] = value;
            }
            starts.Add(node.StartAsync(environment));
        }
        await Task.WhenAll(starts);
    }

    /// <summary>The environment that makes a node <paramref name="name"/> of the cluster on <paramref name="natsUrl"/>.</summary>
    private protected static Dictionary<string, string> NodeEnvironment(string name, string natsUrl, int replicas = 1) => new()
    {
        ["EMIT_HUB_CLUSTER_NATS_URL"] = natsUrl,
        ["EMIT_HUB_CLUSTER_NODE_NAME"] = name,
        ["EMIT_HUB_CLUSTER_STREAM_REPLICAS"] = replicas.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private protected string NatsUrls => string.Join(',', Nats.Select(n => n.Url));

    /// <summary>Creates an Active channel on <paramref name="node"/> and waits until every node knows it.</summary>
    private protected async Task<string> CreateActiveChannelEverywhereAsync(ServerProcess node, string name, bool persist, int replayLast = 0)
    {
        var id = await node.CreateActiveChannelAsync(name, persist, replayLast);
        foreach (var other in Nodes)
        {
            await EventuallyAsync(async () => (await other.GetChannelAsync(id)).Channel?.GetProperty("status").GetString() == "Active",
                $"channel {id} Active on node port {other.Port}");
        }
        return id;
    }

    /// <summary>Reads the <c>connected</c> envelope of a fresh client and returns it.</summary>
    private protected static async Task<(ClientWebSocket Ws, JsonElement Connected)> JoinAsync(ServerProcess node, string id, string query = "")
    {
        var ws = await node.ConnectAsync(id, query);
        var connected = await ServerProcess.ReceiveAsync(ws);
        Assert.True(connected.GetProperty("status").GetString() == "connected", connected.GetRawText());
        return (ws, connected);
    }

    /// <summary>A line in the test's output (shown with a failure).</summary>
    private protected void Log(string line) => _output.WriteLine(line);

    /// <summary>Polls <paramref name="condition"/> every 50 ms for up to 20 s (a loaded 2-core box).</summary>
    private protected static async Task EventuallyAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"not within 20 s: {what}");
            }
            await Task.Delay(50);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
            _output.WriteLine(node.History.ToString());
        }
        foreach (var nats in Nats)
        {
            nats.Dispose();
            _output.WriteLine("---- nats-server ----\n" + nats.Output);
        }
        _dir.Dispose();
    }
}
