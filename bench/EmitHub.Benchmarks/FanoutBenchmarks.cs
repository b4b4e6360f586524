using BenchmarkDotNet.Attributes;
using EmitHub.Core.Fanout;
using EmitHub.Net.WebSockets;

namespace EmitHub.Benchmarks;

/// <summary>
/// One broadcast to N in-memory subscribers: serialize+frame once (<see cref="FrameBuilder"/>), publish through
/// <see cref="ChannelHub"/> into each subscriber's <see cref="OutboundQueue"/>, then each send loop drains and releases.
/// Allocated bytes per operation must not grow with N (the one <see cref="OutboundMessage"/> object is the only allocation).
/// </summary>
[MemoryDiagnoser]
public class FanoutBenchmarks
{
    private readonly List<ReadOnlyMemory<byte>> _segments = new(16);
    private ChannelHub _hub = null!;
    private BenchSubscriber[] _subscribers = null!;
    private FrameBuilder _builder = null!;
    private byte[] _envelope = null!;

    /// <summary>Subscribers on the channel.</summary>
    [Params(10, 1_000, 10_000, 100_000)]
    public int Subscribers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _hub = new ChannelHub();
        _subscribers = new BenchSubscriber[Subscribers];
        for (var i = 0; i < Subscribers; i++)
        {
            _subscribers[i] = new BenchSubscriber(1 << 20);
            _hub.TryAdd(_subscribers[i]);
        }
        _builder = new FrameBuilder(WebSocketFrameEncoder.Instance);
        _envelope = """{"status":"broadcast","message":"A004","channel_id":"7f1c5a52-3a43-4c59-a7a4-1d0bba3f2d4e","timestamp":"2026-11-29T14:00:00Z","data":null,"sequence":1}"""u8.ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var s in _subscribers)
        {
            s.Queue.Dispose();
        }
        _builder.Dispose();
    }

    [Benchmark]
    public int BroadcastAndDrain()
    {
        _envelope.CopyTo(_builder.GetSpan(_envelope.Length));
        _builder.Advance(_envelope.Length);
        var message = _builder.Build(1);
        var recipients = _hub.Publish(message);
        message.Release();

        foreach (var subscriber in _subscribers)
        {
            subscriber.Queue.Drain(_segments);
            subscriber.Queue.ReleaseSent();
        }
        return recipients;
    }

    private sealed class BenchSubscriber(long maxPendingBytes) : IChannelSubscriber
    {
        public OutboundQueue Queue { get; } = new(maxPendingBytes);

        public Guid ConnectionId { get; } = Guid.NewGuid();

        public bool TryEnqueue(OutboundMessage message) => Queue.TryEnqueue(message) == EnqueueResult.Accepted;

        public void Close(SubscriberCloseReason reason) => Queue.Complete();
    }
}
