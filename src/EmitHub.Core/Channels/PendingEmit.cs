using EmitHub.Core.Fanout;

namespace EmitHub.Core.Channels;

/// <summary>
/// One emitted item waiting in <see cref="Channel.Pending"/>: a message (sequence &gt; 0) or a status notice
/// (sequence 0; a stop's notice goes to the subscribers the stop found, <see cref="CloseAfter"/>, who then leave
/// the channel and are closed with 1001). Holds one reference to <see cref="Frame"/> until published or dropped.
/// </summary>
internal sealed class PendingEmit(OutboundMessage frame, bool isBroadcast, bool awaitsCommit, IChannelSubscriber[]? closeAfter = null,
    ChannelNotice notice = ChannelNotice.None)
{
    private static readonly object s_done = new();
    private object? _waiter;
    private volatile bool _failed;

    public OutboundMessage? Frame { get; private set; } = frame;
    public long Sequence { get; } = frame.Sequence;
    public bool IsBroadcast { get; } = isBroadcast;

    /// <summary>A stored message: publishable once <see cref="Channel.CommittedThrough"/> reaches it (or its append failed).</summary>
    public bool AwaitsCommit { get; } = awaitsCommit;
    public IChannelSubscriber[]? CloseAfter { get; } = closeAfter;

    /// <summary>For a status notice, which one (the drainer records a published <c>paused</c>/<c>resumed</c>).</summary>
    public ChannelNotice Notice { get; } = notice;

    public bool Failed
    {
        get => _failed;
        set => _failed = value;
    }

    /// <summary>Subscribers that accepted it when it was published (the broadcast ack's <c>recipients</c>).</summary>
    public int Recipients { get; private set; }

    /// <summary>Records the recipients and wakes a <see cref="WhenPublishedAsync"/> waiter (first call wins).</summary>
    public void MarkPublished(int recipients)
    {
        if (Volatile.Read(ref _waiter) == s_done)
        {
            return;
        }
        Recipients = recipients;
        if (Interlocked.Exchange(ref _waiter, s_done) is TaskCompletionSource<int> waiter)
        {
            waiter.TrySetResult(recipients);
        }
    }

    /// <summary>Completes with <see cref="Recipients"/> once the entry was published or dropped (0).</summary>
    public ValueTask<int> WhenPublishedAsync()
    {
        if (Volatile.Read(ref _waiter) == s_done)
        {
            return new ValueTask<int>(Recipients);
        }
        var waiter = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        return Interlocked.CompareExchange(ref _waiter, waiter, null) == s_done
            ? new ValueTask<int>(Recipients)
            : new ValueTask<int>(waiter.Task);
    }

    /// <summary>Releases the frame; a waiter not yet woken gets 0 recipients.</summary>
    public void Drop()
    {
        Frame?.Release();
        Frame = null;
        MarkPublished(0);
    }
}
