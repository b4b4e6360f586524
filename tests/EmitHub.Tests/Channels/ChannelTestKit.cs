using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text.Json;
using EmitHub.Core.Channels;
using EmitHub.Core.Configuration;
using EmitHub.Core.Fanout;
using EmitHub.Core.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmitHub.Tests.Channels;

/// <summary>RFC 6455 §5.2 header for unmasked final text frames; the test twin of the Net encoder.</summary>
internal sealed class TestFrameEncoder : IFrameEncoder
{
    public int MaxHeaderLength => 10;

    public int GetTextHeaderLength(long payloadLength) => payloadLength < 126 ? 2 : payloadLength <= ushort.MaxValue ? 4 : 10;

    public void WriteTextHeader(Span<byte> destination, long payloadLength)
    {
        destination[0] = 0x81;
        if (payloadLength < 126)
        {
            destination[1] = (byte)payloadLength;
        }
        else if (payloadLength <= ushort.MaxValue)
        {
            destination[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payloadLength);
        }
        else
        {
            destination[1] = 127;
            BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payloadLength);
        }
    }

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
        var json = JsonDocument.Parse(TestFrameEncoder.Payload(message.Frame.Span).ToArray()).RootElement.Clone();
        message.Release();
        Envelopes.Enqueue(json);
        return true;
    }

    public void Close(ushort closeCode, string reason)
    {
        CloseCode ??= closeCode;
        CloseReason ??= reason;
    }

    public List<JsonElement> All => Envelopes.ToList();

    public List<string> Statuses => Envelopes.Select(e => e.GetProperty("status").GetString()!).ToList();
}

internal static class ChannelTestKit
{
    public static ChannelRegistry NewRegistry(IChannelStore? store = null, EmitHubOptions? options = null)
    {
        var registry = new ChannelRegistry(new LiveOptions(options ?? new EmitHubOptions()), store ?? new InMemoryChannelStore(),
            new TestFrameEncoder(), TimeProvider.System, NullLogger<ChannelRegistry>.Instance);
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
}
