using System.Collections.Concurrent;
using System.Text.Json;
using EmitHub.Core.Channels;
using EmitHub.Core.Configuration;
using EmitHub.Core.Fanout;
using EmitHub.Core.Storage;
using EmitHub.Net.Api;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmitHub.Tests.Channels;

/// <summary>Reads the payload of an unmasked server frame written by <see cref="EmitHub.Net.WebSockets.WebSocketFrameEncoder"/>.</summary>
internal static class ServerFrame
{
    public static ReadOnlySpan<byte> Payload(ReadOnlySpan<byte> frame)
    {
        var len = frame[1] & 0x7F;
        return len < 126 ? frame[2..] : len == 126 ? frame[4..] : frame[10..];
    }
}

/// <summary>A subscriber that records every envelope it is given, as parsed JSON.</summary>
internal sealed class RecordingSubscriber : IChannelSubscriber
{
    private readonly int _capacity;

    public RecordingSubscriber(int capacity = int.MaxValue) => _capacity = capacity;

    public Guid ConnectionId { get; } = Guid.NewGuid();
    public ConcurrentQueue<JsonElement> Envelopes { get; } = new();
    public ushort? CloseCode { get; private set; }
    public string? CloseReason { get; private set; }

    public bool TryEnqueue(OutboundMessage message)
    {
        if (CloseCode is not null || Envelopes.Count >= _capacity)
        {
            return false;
        }
        message.AddRef();
        var json = JsonDocument.Parse(ServerFrame.Payload(message.Frame.Span).ToArray()).RootElement.Clone();
        message.Release();
        Envelopes.Enqueue(json);
        return true;
    }

    public void Close(SubscriberCloseReason reason)
    {
        var (code, text) = EmitHub.Net.WebSockets.ChannelCloseCodes.For(reason);
        CloseCode ??= code;
        CloseReason ??= text;
        CloseKind ??= reason;
    }

    public SubscriberCloseReason? CloseKind { get; private set; }

    /// <summary>Runs once, on the first wait for room: the moment a store catch-up has started.</summary>
    public Func<Task>? OnCatchUpStarted { get; set; }

    public async ValueTask WaitForRoomAsync(long bytes, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _onCatchUpTaken, 1) == 0 && OnCatchUpStarted is { } started)
        {
            await started();
        }
    }

    private int _onCatchUpTaken;

    public List<JsonElement> All => Envelopes.ToList();

    public List<string> Statuses => Envelopes.Select(e => e.GetProperty("status").GetString()!).ToList();
}

internal static class ChannelTestKit
{
    public static ChannelRegistry NewRegistry(IChannelStore? store = null, EmitHubOptions? options = null)
    {
        var registry = new ChannelRegistry(new LiveOptions(options ?? new EmitHubOptions()), store ?? new InMemoryChannelStore(),
            EmitHub.Net.WebSockets.WebSocketFrameEncoder.Instance, TimeProvider.System, NullLogger<ChannelRegistry>.Instance);
        registry.InitializeAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        return registry;
    }

    public static async Task<ChannelSnapshot> CreateAsync(ChannelRegistry registry, string json = """{"name":"Sistema de Turnos"}""")
    {
        Assert.True(ChannelRequests.TryParseCreate(System.Text.Encoding.UTF8.GetBytes(json), out var request, out var error), error);
        var result = await registry.CreateAsync(request!, CancellationToken.None);
        Assert.True(result.IsSuccess);
        return result.Channel!;
    }

    public static BroadcastRequest Broadcast(string content) => new(content, "Broadcast", default);

    /// <summary>Creates and starts a persisting channel with no rate limit, then broadcasts "m1" to
    /// "m<paramref name="count"/>" to it (each must succeed); returns its id.</summary>
    public static async Task<Guid> CreatePersistingChannelWithHistoryAsync(ChannelRegistry registry, int count)
    {
        var channel = await CreateAsync(registry, """{"name":"p","settings":{"persist_messages":true,"rate_limit_per_minute":0}}""");
        await registry.StartAsync(channel.Id, default);
        for (var i = 1; i <= count; i++)
        {
            Assert.True((await registry.BroadcastAsync(channel.Id, Broadcast($"m{i}"), default)).IsSuccess);
        }
        return channel.Id;
    }
}
