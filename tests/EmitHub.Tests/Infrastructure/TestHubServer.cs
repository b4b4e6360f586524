using System.Net;
using System.Net.Http.Headers;
using EmitHub.Core.Channels;
using EmitHub.Core.Configuration;
using EmitHub.Core.Storage;
using EmitHub.Net.Http;
using EmitHub.Net.Server;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmitHub.Tests.Infrastructure;

/// <summary>
/// The real <see cref="HubServer"/> on 127.0.0.1, port 0, over an <see cref="InMemoryChannelStore"/>, with an
/// <see cref="HttpClient"/> pointed at it. Shared by end-to-end tests of every layer (HTTP, WebSocket, CLI).
/// </summary>
public sealed class TestHubServer : IAsyncDisposable
{
    private TestHubServer(HubServer server, ChannelRegistry registry, LiveOptions options, InMemoryChannelStore store)
    {
        Server = server;
        Registry = registry;
        Options = options;
        Store = store;
        BaseAddress = new Uri($"http://127.0.0.1:{server.LocalEndPoint.Port}");
        Client = new HttpClient { BaseAddress = BaseAddress };
    }

    public HubServer Server { get; }
    public ChannelRegistry Registry { get; }
    public LiveOptions Options { get; }
    public InMemoryChannelStore Store { get; }
    public HttpClient Client { get; }
    public Uri BaseAddress { get; }
    public IPEndPoint EndPoint => Server.LocalEndPoint;

    /// <summary>Starts a server. <paramref name="configure"/> edits the options before start; <paramref name="time"/>
    /// replaces the clock (a FakeTimeProvider moves every timeout); <paramref name="limits"/> replaces HTTP limits;
    /// <paramref name="webSocket"/> plugs the upgrade seam; <paramref name="configureServer"/> edits the server before
    /// its start.</summary>
    public static async Task<TestHubServer> StartAsync(Action<EmitHubOptions>? configure = null, TimeProvider? time = null,
        HttpLimits? limits = null, IWebSocketUpgrade? webSocket = null, ILoggerFactory? loggerFactory = null,
        Action<HubServer>? configureServer = null)
    {
        var o = new EmitHubOptions { Host = "127.0.0.1", Port = 0 };
        configure?.Invoke(o);
        var options = new LiveOptions(o);
        var store = new InMemoryChannelStore();
        time ??= TimeProvider.System;
        loggerFactory ??= NullLoggerFactory.Instance;
        var registry = new ChannelRegistry(options, store, EmitHub.Net.WebSockets.WebSocketFrameEncoder.Instance, time, loggerFactory.CreateLogger<ChannelRegistry>());
        await registry.InitializeAsync(CancellationToken.None);
        var server = new HubServer(options, registry, loggerFactory, time) { WebSocketUpgrade = webSocket };
        if (limits != null)
        {
            server.Limits = limits;
        }
        configureServer?.Invoke(server);
        await server.StartAsync(CancellationToken.None);
        return new TestHubServer(server, registry, options, store);
    }

    /// <summary>A request with an optional JSON body (Content-Type: application/json).</summary>
    public static HttpRequestMessage Request(HttpMethod method, string path, string? json = null, string? bearer = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (json != null)
        {
            request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        }
        if (bearer != null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }
        return request;
    }

    /// <summary>Opens a raw TCP connection to the server.</summary>
    public Task<RawHttpConnection> ConnectRawAsync() => RawHttpConnection.ConnectAsync(EndPoint);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        await Registry.DisposeAsync();
    }
}
