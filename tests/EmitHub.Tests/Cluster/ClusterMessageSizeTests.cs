using System.Net;
using System.Text.Json;
using EmitHub.Tests.Persistence;
using Xunit.Abstractions;

namespace EmitHub.Tests.Cluster;

/// <summary>
/// A broadcast within <c>message_size_limit</c> whose envelope exceeds the NATS server's <c>max_payload</c> (1 MB by
/// default, the same as the default limit) is refused 413 with a sentence naming the NATS limit — not 503
/// "may or may not have been stored", which a client would retry forever (found by a new-user test).
/// </summary>
[Collection(PersistenceProcessCollection.Name)]
public sealed class ClusterMessageSizeTests(ITestOutputHelper output) : ClusterTestBase(output)
{
    [Fact]
    public async Task A_broadcast_over_the_nats_max_payload_is_refused_413_naming_the_limit_and_the_node_stays_ready()
    {
        await StartNatsAsync();
        await StartNodesAsync();
        var id = await CreateActiveChannelEverywhereAsync(A, "size", persist: true);

        var content = new string('x', 1_048_576); // exactly message_size_limit (1 MiB of content); the envelope is over 1 MB
        var (status, ack, body) = await ServerProcess.TryBroadcastAsync(A.Http, id, content);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Null(ack);
        var json = JsonDocument.Parse(body).RootElement;
        Assert.Equal("message_too_large", json.GetProperty("code").GetString());
        Assert.Contains("max_payload", json.GetProperty("error").GetString());
        // Nothing was stored and the node is fine: a normal broadcast still gets sequence 1.
        Assert.Equal(1, (await A.BroadcastAsync(id, "small")).Sequence);
        Assert.Equal(HttpStatusCode.OK, (await A.Http.GetAsync("/ready")).StatusCode);
    }
}
