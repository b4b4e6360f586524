using BenchmarkDotNet.Attributes;
using EmitHub.Core.Fanout;

namespace EmitHub.Benchmarks;

/// <summary>
/// The cost of one join plus one leave on a channel that already holds N subscribers (issue 10: "a join or leave
/// costs O(1) or O(log N) whatever the channel's size"). A reconnect storm after a deploy is N of these in a row, so
/// a per-operation cost that grows with N makes the storm quadratic. Both rows should be flat across N, with no
/// allocation per operation once the hub has grown.
/// </summary>
[MemoryDiagnoser]
public class HubJoinBenchmarks
{
    private ChannelHub _hub = null!;
    private IdleSubscriber[] _members = null!;
    private IdleSubscriber _newcomer = null!;
    private int _next;

    /// <summary>Subscribers already on the channel.</summary>
    [Params(1_000, 10_000, 100_000)]
    public int Subscribers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _hub = new ChannelHub();
        _members = new IdleSubscriber[Subscribers];
        for (var i = 0; i < Subscribers; i++)
        {
            _members[i] = new IdleSubscriber();
            _hub.TryAdd(_members[i]);
        }
        _newcomer = new IdleSubscriber();
        _next = 0;
    }

    /// <summary>A new connection joins and leaves again (the set's size returns to N).</summary>
    [Benchmark]
    public bool JoinAndLeave() => _hub.TryAdd(_newcomer) & _hub.Remove(_newcomer);

    /// <summary>
    /// An existing member leaves and comes back; the member rotates through the whole set, so the leave hits every
    /// position (the copy-on-write array's cost depended on where the leaver sat).
    /// </summary>
    [Benchmark]
    public bool LeaveAndRejoin()
    {
        var member = _members[_next];
        _next = _next + 1 == _members.Length ? 0 : _next + 1;
        return _hub.Remove(member) & _hub.TryAdd(member);
    }

    private sealed class IdleSubscriber : IChannelSubscriber
    {
        public Guid ConnectionId { get; } = Guid.NewGuid();

        public bool TryEnqueue(OutboundMessage message) => true;

        public void Close(SubscriberCloseReason reason)
        {
        }
    }
}
