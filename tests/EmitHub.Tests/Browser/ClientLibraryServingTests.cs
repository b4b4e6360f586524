using System.Net;
using System.Net.WebSockets;
using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Browser;

/// <summary>The hub serves emithub.js itself (embedded in the binary) and the visible keepalive it relies on.</summary>
public class ClientLibraryServingTests
{
    [Fact]
    public async Task The_module_and_the_classic_build_are_served_as_javascript_to_any_origin()
    {
        await using var hub = await TestHubServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/client/emithub.js");
        request.Headers.Add("Origin", "https://displays.example");
        var module = await hub.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, module.StatusCode);
        Assert.Equal("text/javascript", module.Content.Headers.ContentType!.MediaType);
        Assert.Equal("*", Assert.Single(module.Headers.GetValues("Access-Control-Allow-Origin")));
        var moduleText = await module.Content.ReadAsStringAsync();
        Assert.Contains("export { EmitHub, subscribe };", moduleText);

        var classic = await hub.Client.GetStringAsync("/client/emithub.classic.js");
        Assert.DoesNotContain("export {", classic);
        Assert.Contains("global.EmitHub = EmitHub;", classic);
        Assert.Contains("function subscribe(url, channelId, options)", classic);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await hub.Client.PostAsync("/client/emithub.js", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await hub.Client.GetAsync("/client/other.js")).StatusCode);
    }

    [Fact]
    public async Task With_keepalive_1_each_ping_comes_with_a_keepalive_envelope_naming_the_cadence()
    {
        await using var hub = await TestHubServer.StartAsync(o =>
        {
            o.WebSocket.PingInterval = 1;
            o.WebSocket.PongTimeout = 5;
        });
        var id = await hub.CreateActiveChannelAsync();
        using var ws = await hub.ConnectAsync(id, "?keepalive=1");
        Assert.Equal("connected", (await ws.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());
        var keepalive = (await ws.ReceiveEnvelopeAsync(timeoutSeconds: 15))!.Value;
        Assert.Equal("keepalive", keepalive.GetProperty("status").GetString());
        Assert.Equal(id, keepalive.GetProperty("channel_id").GetString());
        Assert.Equal(1, keepalive.GetProperty("data").GetProperty("ping_interval").GetInt32());
        Assert.Equal(5, keepalive.GetProperty("data").GetProperty("pong_timeout").GetInt32());

        // Without it (the seed's clients) nothing but channel envelopes arrives.
        using var plain = await hub.ConnectAsync(id);
        await plain.ReceiveEnvelopeAsync();
        await Task.Delay(2500);
        await hub.BroadcastAsync(id, "A004");
        Assert.Equal("broadcast", (await plain.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());
    }
}
