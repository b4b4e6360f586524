using EmitHub.Core.Fanout;

namespace EmitHub.Tests.Fanout;

/// <summary>
/// Send coalescing (issue 10, <c>[websocket] coalesce_window_ms</c>): a corked wait on the queue is ended by the
/// coalescer's tick or by completion, never by a message; the coalescer loses no uncork when many send loops register
/// at once; a slow-consumer verdict still ends a cork at once.
/// </summary>
public class SendCoalescingTests
{
    private static OutboundMessage Message(int length, long sequence) => OutboundMessage.Copy(new byte[length], sequence);

    [Fact]
    public async Task A_corked_wait_ignores_messages_and_wakes_then_uncork_ends_it_with_every_message_in_order()
    {
        var queue = new OutboundQueue(1 << 20);
        var wait = queue.WaitCorkedAsync();
        var messages = Enumerable.Range(1, 5).Select(i => Message(10, i)).ToArray();
        foreach (var message in messages)
        {
            Assert.Equal(EnqueueResult.Accepted, queue.TryEnqueue(message));
        }
        queue.Wake();
        Assert.False(wait.IsCompleted);

        queue.Uncork();
        Assert.True(await wait);
        Assert.Equal(new long[] { 1, 2, 3, 4, 5 }, queue.DrainInFlight().ToArray().Select(m => m!.Sequence));
        queue.ReleaseSent();
        // An uncork with no corked wait armed does nothing; a plain wait is woken by a message as before.
        queue.Uncork();
        var plain = queue.WaitAsync();
        Assert.False(plain.IsCompleted);
        queue.TryEnqueue(Message(10, 6));
        Assert.True(await plain);
        queue.Dispose();
        foreach (var message in messages)
        {
            message.Release();
        }
    }

    [Fact]
    public async Task A_slow_consumer_verdict_or_a_completion_ends_a_corked_wait_at_once()
    {
        var slow = new OutboundQueue(100);
        var wait = slow.WaitCorkedAsync();
        slow.TryEnqueue(Message(60, 1));
        Assert.Equal(EnqueueResult.OverLimit, slow.TryEnqueue(Message(60, 2)));
        Assert.True(wait.IsCompleted);
        Assert.True(await wait); // the first message is still there to drain before the close
        slow.Dispose();

        var completed = new OutboundQueue(1000);
        var corked = completed.WaitCorkedAsync();
        completed.Complete();
        Assert.False(await corked);
        Assert.False(await completed.WaitCorkedAsync()); // completed and empty: returns at once
        completed.Dispose();
    }

    [Fact]
    public void A_zero_window_is_no_coalescer_and_one_window_is_one_shared_coalescer()
    {
        Assert.Null(SendCoalescer.For(TimeSpan.Zero));
        var a = SendCoalescer.For(TimeSpan.FromMilliseconds(7));
        Assert.Same(a, SendCoalescer.For(TimeSpan.FromMilliseconds(7)));
        Assert.False(a!.ShouldCork(0)); // never sent: send at once
        Assert.True(a.ShouldCork(System.Diagnostics.Stopwatch.GetTimestamp()));
        Assert.False(a.ShouldCork(System.Diagnostics.Stopwatch.GetTimestamp() - 2 * a.WindowTimestampTicks));
        Assert.Throws<ArgumentOutOfRangeException>(() => SendCoalescer.For(TimeSpan.FromMilliseconds(-1)));
    }

    /// <summary>Many send loops corking and registering at once, across ticks and while the timer stops and
    /// restarts: every cork is uncorked (a lost uncork would leave a connection silent forever).</summary>
    [Fact]
    public async Task Concurrent_corks_across_many_ticks_are_all_uncorked()
    {
        var coalescer = SendCoalescer.For(TimeSpan.FromMilliseconds(2))!;
        var queues = Enumerable.Range(0, 64).Select(_ => new OutboundQueue(1 << 20)).ToArray();
        var loops = queues.Select((queue, i) => Task.Run(async () =>
        {
            for (var round = 0; round < 60; round++)
            {
                queue.TryEnqueue(Message(8, round));
                var corked = queue.WaitCorkedAsync();
                coalescer.Register(queue);
                Assert.True(await corked.AsTask().WaitAsync(TimeSpan.FromSeconds(10)), $"queue {i} round {round}");
                Assert.Single(queue.DrainInFlight().ToArray());
                queue.ReleaseSent();
                if (round % 20 == 19)
                {
                    await Task.Delay(10); // let the timer find nothing corked and stop, then restart it
                }
            }
        })).ToArray();
        await Task.WhenAll(loops);
        foreach (var queue in queues)
        {
            queue.Dispose();
        }
    }
}
