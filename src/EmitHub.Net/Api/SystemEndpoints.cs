using System.Text;
using EmitHub.Core.Channels;
using EmitHub.Core.Cluster;
using EmitHub.Net.Http;

namespace EmitHub.Net.Api;

/// <summary><c>/</c>, <c>/docs</c>, <c>/health</c> and <c>/ready</c> (seed; SPEC §2, §6). Open without the API key.</summary>
internal sealed class SystemEndpoints(ChannelRegistry registry, string version, TimeProvider time)
{
    private static readonly byte[] s_docs = Encoding.UTF8.GetBytes(DocsPage.Html);

    /// <summary>Share of the GC's available memory above which <c>memory</c> is not ready: 90 %.</summary>
    private const double MemoryHighWatermark = 0.9;

    public void WriteInfo(HttpResponse response) =>
        response.WriteJson(200, new ServiceInfoBody("emit-hub", version, "/docs", "/health", "/api/v1"), NetJsonContext.Default.ServiceInfoBody);

    public void WriteDocs(HttpResponse response) => response.WriteBytes(200, "text/html; charset=utf-8", s_docs);

    public void WriteHealth(HttpResponse response) =>
        response.WriteJson(200, new HealthBody("healthy", "emit-hub", version, time.GetUtcNow()), NetJsonContext.Default.HealthBody);

    public void WriteReady(HttpResponse response)
    {
        var database = !registry.IsRecovered ? "recovering" : !registry.Store.IsHealthy ? "unavailable" : "ok";
        var info = GC.GetGCMemoryInfo();
        var memory = info.TotalAvailableMemoryBytes > 0 && info.HeapSizeBytes > info.TotalAvailableMemoryBytes * MemoryHighWatermark
            ? "high" : "ok";
        // In a cluster the store of record is NATS JetStream: "database" and "nats" both say whether it is reachable.
        var nats = registry.Store is IClusterStore cluster ? (cluster.IsConnected ? "ok" : "unavailable") : null;
        var ready = database == "ok" && memory == "ok" && nats is null or "ok";
        response.WriteJson(ready ? 200 : 503, new ReadyBody(ready ? "ready" : "not_ready", new ReadyChecks(database, memory, nats)),
            NetJsonContext.Default.ReadyBody);
    }
}
