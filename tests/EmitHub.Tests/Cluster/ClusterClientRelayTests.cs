using System.Text.Json;
using EmitHub.Core.Channels;
using EmitHub.Tests.Channels;
using static EmitHub.Tests.Channels.ChannelTestKit;

namespace EmitHub.Tests.Cluster;

/// <summary>
/// A client's text relayed as <c>client_message</c> (SPEC §3) in a cluster carries the same envelope as on a single
/// node: <c>data.sender</c> is the connection's sender (the subscriber token's <c>sub</c>), not a fixed "client".
/// Runs the registry's cluster path on <see cref="InMemoryClusterStore"/>, no nats-server.
/// </summary>
public class ClusterClientRelayTests
{
    private const string Chat = """{"name":"Sala","settings":{"allow_client_messages":true,"rate_limit_per_minute":0}}""";

    [Fact]
    public async Task A_cluster_relays_a_client_message_with_the_same_envelope_as_a_single_node()
    {
        var cluster = new InMemoryClusterStore();
        var single = await RelayAsync(NewRegistry(), "recepcion-1", "Hola");
        var clustered = await RelayAsync(NewRegistry(cluster), "recepcion-1", "Hola");

        // What the cluster stored is what its clients got, less the sequence the stream adds.
        Assert.Single(cluster.Appended);
        var appended = JsonDocument.Parse(cluster.Appended.Single()).RootElement;
        Assert.Equal("recepcion-1", appended.GetProperty("data").GetProperty("sender").GetString());

        Assert.Equal("recepcion-1", single.Envelope.GetProperty("data").GetProperty("sender").GetString());
        Assert.Equal("recepcion-1", clustered.Envelope.GetProperty("data").GetProperty("sender").GetString());
        Assert.Equal(Shape(single), Shape(clustered));
    }

    /// <summary>Joins a chat channel, relays <paramref name="text"/> as <paramref name="sender"/> and returns the
    /// client_message another subscriber received (the cluster path delivers through the change feed).</summary>
    private static async Task<(JsonElement Envelope, Guid ChannelId, Guid SenderId)> RelayAsync(ChannelRegistry registry, string sender, string text)
    {
        var channel = await CreateAsync(registry, Chat);
        Assert.True((await registry.StartAsync(channel.Id, default)).IsSuccess);
        var author = new RecordingSubscriber();
        var reader = new RecordingSubscriber();
        var subscription = (await registry.SubscribeAsync(channel.Id, author, null, null, default)).Subscription!;
        await registry.SubscribeAsync(channel.Id, reader, null, null, default);
        subscription.Sender = sender;

        subscription.OnClientText(text);

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (reader.Envelopes.Count < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }
        Assert.Equal(["connected", "client_message"], reader.Statuses);
        return (reader.All[1], channel.Id, author.ConnectionId);
    }

    /// <summary>The envelope as text with what differs by nature (channel and connection ids, time) replaced by
    /// placeholders after checking them: member names, order and every other value must be equal.</summary>
    private static string Shape((JsonElement Envelope, Guid ChannelId, Guid SenderId) relayed)
    {
        var text = relayed.Envelope.GetRawText();
        Assert.Equal(relayed.ChannelId.ToString(), relayed.Envelope.GetProperty("channel_id").GetString());
        Assert.Equal(relayed.SenderId.ToString(), relayed.Envelope.GetProperty("data").GetProperty("connection_id").GetString());
        var timestamp = relayed.Envelope.GetProperty("timestamp").GetString()!;
        return text.Replace(relayed.ChannelId.ToString(), "CHANNEL", StringComparison.Ordinal)
            .Replace(relayed.SenderId.ToString(), "CONNECTION", StringComparison.Ordinal)
            .Replace(timestamp, "TIME", StringComparison.Ordinal);
    }
}
