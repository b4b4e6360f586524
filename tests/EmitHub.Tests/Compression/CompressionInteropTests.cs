using System.IO.Compression;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Compression;

/// <summary>
/// permessage-deflate end to end against the real server: python-websockets (deflate on by default), Node <c>ws</c>
/// (with and without client context takeover), .NET <c>ClientWebSocket</c> with <c>DangerousDeflateOptions</c>, and
/// raw frames (RSV1 on the wire, the shared compressed frame; the deflate bomb is in
/// <see cref="DeflateBombAllocationTests"/>). Every message a compressing client
/// decodes is byte for byte the envelope an uncompressed client gets.
/// </summary>
[Collection(CompressionCollection.Name)]
public class CompressionInteropTests
{
    private const string ChannelBody = """{"name":"Dashboard","settings":{"allow_client_messages":true,"rate_limit_per_minute":0}}""";
    private const int Broadcasts = 6;

    private static readonly string s_clientText = string.Concat(Enumerable.Repeat("client says hello to the dashboard; ", 20));

    [Theory]
    [InlineData("shared")]
    [InlineData("per_connection")]
    public async Task Python_websockets_decodes_every_envelope_exactly_as_the_uncompressed_client_gets_it(string mode)
    {
        await using var hub = await TestHubServer.StartAsync(o => o.WebSocket.Compression = mode);
        var id = await hub.CreateActiveChannelAsync(ChannelBody);
        using var plain = await hub.ConnectAsync(id);
        Assert.Equal("connected", (await plain.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());

        using var python = ClientProcess.Start("/usr/bin/python3", "deflate_python_client.py", Port(hub), id, Broadcasts.ToString(), s_clientText);
        await python.WaitForAsync("\"status\":\"client_message\"");
        Assert.Contains("EXT permessage-deflate", python.Output);

        var expected = await BroadcastAndCollectAsync(hub, id, plain, includeClientMessage: true);
        await python.WaitForAsync("DONE");
        Assert.Equal(expected, Messages(python.Output));
    }

    [Theory]
    [InlineData("shared", "0")]
    [InlineData("shared", "1")]
    [InlineData("per_connection", "0")]
    [InlineData("per_connection", "1")]
    public async Task Node_ws_with_and_without_client_context_takeover_decodes_the_same_envelopes(string mode, string clientNoContextTakeover)
    {
        await using var hub = await TestHubServer.StartAsync(o => o.WebSocket.Compression = mode);
        var id = await hub.CreateActiveChannelAsync(ChannelBody);
        using var plain = await hub.ConnectAsync(id);
        await plain.ReceiveEnvelopeAsync();

        using var node = ClientProcess.Start("node", "deflate_node_client.js", Port(hub), id, Broadcasts.ToString(), clientNoContextTakeover, s_clientText);
        await node.WaitForAsync("\"status\":\"client_message\"");
        Assert.Contains("EXT permessage-deflate", node.Output);
        Assert.Equal(clientNoContextTakeover == "1", node.Output.Contains("client_no_context_takeover", StringComparison.Ordinal));
        Assert.Equal(mode == "shared", node.Output.Contains("server_no_context_takeover", StringComparison.Ordinal));

        var expected = await BroadcastAndCollectAsync(hub, id, plain, includeClientMessage: true);
        await node.WaitForAsync("CLOSED 1000");
        Assert.Equal(expected, Messages(node.Output));
    }

    [Theory]
    [InlineData("shared", true, true)]
    [InlineData("shared", false, false)]
    [InlineData("per_connection", true, true)]
    [InlineData("per_connection", true, false)]
    public async Task ClientWebSocket_with_DangerousDeflateOptions_round_trips(string mode, bool serverContextTakeover, bool clientContextTakeover)
    {
        await using var hub = await TestHubServer.StartAsync(o => o.WebSocket.Compression = mode);
        var id = await hub.CreateActiveChannelAsync(ChannelBody);
        using var plain = await hub.ConnectAsync(id);
        await plain.ReceiveEnvelopeAsync();

        using var deflating = new ClientWebSocket();
        deflating.Options.DangerousDeflateOptions = new WebSocketDeflateOptions
        {
            ServerContextTakeover = serverContextTakeover,
            ClientContextTakeover = clientContextTakeover,
        };
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            await deflating.ConnectAsync(new Uri($"ws://127.0.0.1:{hub.EndPoint.Port}/api/v1/channels/{id}/ws"), cts.Token);
        }
        Assert.Equal("connected", (await deflating.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());
        await deflating.SendAsync(Encoding.UTF8.GetBytes(s_clientText), WebSocketMessageType.Text, WebSocketMessageFlags.EndOfMessage, CancellationToken.None);
        var expected = await BroadcastAndCollectAsync(hub, id, plain, includeClientMessage: true);

        var received = new List<string>();
        while (received.Count < expected.Count)
        {
            received.Add((await deflating.ReceiveTextAsync())!);
        }
        Assert.Equal(expected, received);
    }

    [Fact]
    public async Task On_the_wire_a_large_envelope_has_RSV1_and_inflates_to_the_shared_bytes_while_a_small_one_goes_plain()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync(ChannelBody);
        using var plain = await hub.ConnectAsync(id);
        await plain.ReceiveEnvelopeAsync();
        using var raw = await RawWebSocketClient.ConnectAsync(hub.EndPoint, $"/api/v1/channels/{id}/ws", "permessage-deflate; client_max_window_bits");
        Assert.Equal("permessage-deflate; server_no_context_takeover", raw.Extensions);
        var connected = await raw.ReadFrameAsync();
        Assert.Equal(0xC1, connected.First); // FIN, RSV1, text: the connected envelope (channel JSON) is over 256 bytes

        await PostBroadcastAsync(hub, id, DashboardPayload.Body(1));
        var big = await raw.ReadFrameAsync();
        var bigPlain = await plain.ReceiveTextAsync();
        Assert.Equal(0xC1, big.First);
        Assert.True(big.Payload.Length < Encoding.UTF8.GetByteCount(bigPlain!) / 2, $"{big.Payload.Length} compressed bytes for {bigPlain!.Length}");
        Assert.Equal(bigPlain, Inflate(big.Payload));

        await hub.BroadcastAsync(id, "A004");
        var small = await raw.ReadFrameAsync();
        Assert.Equal(0x81, small.First); // under the threshold: FIN, text, no RSV1
        Assert.Equal(await plain.ReceiveTextAsync(), Encoding.UTF8.GetString(small.Payload));
    }

    [Fact]
    public async Task A_client_window_smaller_than_the_message_gets_it_uncompressed()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync(ChannelBody);
        using var raw = await RawWebSocketClient.ConnectAsync(hub.EndPoint, $"/api/v1/channels/{id}/ws", "permessage-deflate; server_max_window_bits=9");
        Assert.Equal("permessage-deflate; server_no_context_takeover; server_max_window_bits=9", raw.Extensions);
        await raw.ReadFrameAsync();
        await PostBroadcastAsync(hub, id, DashboardPayload.Body(2)); // ~1.5 KB > 512-byte window
        Assert.Equal(0x81, (await raw.ReadFrameAsync()).First);
    }

    [Fact]
    public async Task A_message_just_over_a_small_client_window_is_sent_uncompressed()
    {
        // server_max_window_bits=9: the client inflates with a 512-byte window (RFC 7692 §7.1.2.1), so the shared
        // frame (deflated with a 32 KiB window) must not reach it for a payload over 512 bytes. A payload of
        // 513–518 bytes has a 4-byte header; a pre-filter "frame − 10 > 512" took those for short enough.
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync(ChannelBody);
        using var plain = await hub.ConnectAsync(id);
        await plain.ReceiveEnvelopeAsync();
        using var raw = await RawWebSocketClient.ConnectAsync(hub.EndPoint, $"/api/v1/channels/{id}/ws", "permessage-deflate; server_max_window_bits=9");
        Assert.Equal("permessage-deflate; server_no_context_takeover; server_max_window_bits=9", raw.Extensions);
        await raw.ReadFrameAsync();

        // The envelope is the content plus a fixed head (fixed-width timestamp, one-digit sequence): one probe
        // gives its size, the second message lands at exactly 515 bytes.
        const int Target = 515;
        await hub.BroadcastAsync(id, new string('a', 300));
        var probe = Encoding.UTF8.GetByteCount((await plain.ReceiveTextAsync())!);
        await raw.ReadFrameAsync();
        await hub.BroadcastAsync(id, string.Concat(Enumerable.Repeat("ab", 200))[..(300 + Target - probe)]);
        var expected = (await plain.ReceiveTextAsync())!;
        Assert.Equal(Target, Encoding.UTF8.GetByteCount(expected));

        var frame = await raw.ReadFrameAsync();
        Assert.Equal(0x81, frame.First); // FIN, text, no RSV1: 515 bytes > the 512-byte window
        Assert.Equal(expected, Encoding.UTF8.GetString(frame.Payload));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("permessage-deflate")] // offered, but [websocket] compression = off
    public async Task RSV1_on_a_connection_that_did_not_negotiate_is_closed_1002(string? offer)
    {
        await using var hub = await TestHubServer.StartAsync(o => o.WebSocket.Compression = "off");
        var id = await hub.CreateActiveChannelAsync(ChannelBody);
        using var raw = await RawWebSocketClient.ConnectAsync(hub.EndPoint, $"/api/v1/channels/{id}/ws", offer);
        Assert.Null(raw.Extensions);
        await raw.ReadFrameAsync();
        await raw.SendAsync(PerMessageDeflateReaderTests.CompressedFrame(PerMessageDeflateReaderTests.Deflate("hello"u8)));
        var close = await raw.ReadFrameAsync();
        Assert.Equal(0x88, close.First);
        Assert.Equal(1002, close.Payload[0] << 8 | close.Payload[1]);
    }

    private static string Port(TestHubServer hub) => hub.EndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static async Task PostBroadcastAsync(TestHubServer hub, string id, string body)
    {
        var response = await hub.Client.PostAsync($"/api/v1/channels/{id}/broadcast", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>Broadcasts dashboard payloads (and one short message, below the threshold) and returns what the
    /// uncompressed client received from the client message on: the expected texts, exactly.</summary>
    private static async Task<List<string>> BroadcastAndCollectAsync(TestHubServer hub, string id, ClientWebSocket plain, bool includeClientMessage)
    {
        var expected = new List<string>();
        if (includeClientMessage)
        {
            var text = (await plain.ReceiveTextAsync())!;
            Assert.Contains("\"status\":\"client_message\"", text);
            expected.Add(text);
        }
        for (var i = 0; i < Broadcasts; i++)
        {
            if (i == 2)
            {
                await hub.BroadcastAsync(id, "A004");
            }
            else
            {
                await PostBroadcastAsync(hub, id, DashboardPayload.Body(i));
            }
            expected.Add((await plain.ReceiveTextAsync())!);
        }
        return expected;
    }

    private static List<string> Messages(string output) =>
        output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith("MSG ", StringComparison.Ordinal))
            .Select(l => l[4..]).Where(t => !t.Contains("\"status\":\"connected\"", StringComparison.Ordinal)).ToList();

    internal static string Inflate(byte[] payload)
    {
        using var input = new MemoryStream([.. payload, 0x00, 0x00, 0xFF, 0xFF]);
        using var inflate = new DeflateStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        inflate.CopyTo(output);
        return Encoding.UTF8.GetString(output.ToArray());
    }
}

/// <summary>Compression tests start servers and child processes; run them one at a time on the shared machine.</summary>
[CollectionDefinition(Name)]
public sealed class CompressionCollection
{
    public const string Name = "Compression end to end";
}
