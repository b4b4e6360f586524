using EmitHub.Core.Fanout;

namespace EmitHub.Tests.Fanout;

/// <summary>An in-memory connection: an <see cref="OutboundQueue"/> whose over-limit result closes it 1008, as the real connection does.</summary>
internal sealed class FakeSubscriber : IChannelSubscriber
{
    private int _closeCode;

    public FakeSubscriber(long maxPendingBytes = 1 << 20) => Queue = new OutboundQueue(maxPendingBytes);

    public Guid ConnectionId { get; } = Guid.NewGuid();

    public OutboundQueue Queue { get; }

    public int CloseCode => Volatile.Read(ref _closeCode);

    public bool TryEnqueue(OutboundMessage message)
    {
        switch (Queue.TryEnqueue(message))
        {
            case EnqueueResult.Accepted:
                return true;
            case EnqueueResult.OverLimit:
                Close(1008);
                return false;
            default:
                return false;
        }
    }

    public void Close(SubscriberCloseReason reason) => Close(EmitHub.Net.WebSockets.ChannelCloseCodes.For(reason).Code);

    private void Close(ushort closeCode)
    {
        Interlocked.CompareExchange(ref _closeCode, closeCode, 0);
        Queue.Complete();
    }
}
