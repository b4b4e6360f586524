using EmitHub.Core.Fanout;

namespace EmitHub.Tests.Fanout;

public class OutboundQueueTests
{
    private static OutboundMessage Message(int length, long sequence = 0) => OutboundMessage.Copy(new byte[length], sequence);

    [Fact]
    public void Accepted_message_is_referenced_by_the_queue_until_its_send_is_released()
    {
        var queue = new OutboundQueue(1000);
        var message = Message(40);
        Assert.Equal(EnqueueResult.Accepted, queue.TryEnqueue(message));
        Assert.Equal(2, message.RefCount);
        Assert.Equal(40, queue.PendingBytes);

        var segments = new List<ReadOnlyMemory<byte>>();
        Assert.Equal(1, queue.Drain(segments));
        Assert.Equal(40, queue.PendingBytes); // still counted while the send is in flight
        Assert.Equal(2, message.RefCount);

        queue.ReleaseSent();
        Assert.Equal(1, message.RefCount);
        Assert.Equal(0, queue.PendingBytes);
        message.Release();
        Assert.Equal(0, message.RefCount);
    }

    [Fact]
    public void Passing_max_pending_bytes_refuses_once_as_over_limit_then_as_closed()
    {
        var queue = new OutboundQueue(100);
        var messages = Enumerable.Range(0, 4).Select(_ => Message(40)).ToArray();
        Assert.Equal(EnqueueResult.Accepted, queue.TryEnqueue(messages[0]));  // 40
        Assert.Equal(EnqueueResult.Accepted, queue.TryEnqueue(messages[1]));  // 80
        Assert.Equal(EnqueueResult.OverLimit, queue.TryEnqueue(messages[2])); // 120 > 100
        Assert.Equal(EnqueueResult.Closed, queue.TryEnqueue(messages[3]));
        Assert.True(queue.IsOverLimit);
        Assert.True(queue.IsCompleted);
        Assert.Equal(1, messages[2].RefCount); // refused messages were not referenced
        Assert.Equal(1, messages[3].RefCount);

        queue.Dispose();
        foreach (var message in messages)
        {
            Assert.Equal(1, message.RefCount);
            message.Release();
        }
    }

    [Fact]
    public void Exactly_max_pending_bytes_is_accepted()
    {
        var queue = new OutboundQueue(100);
        var a = Message(60);
        var b = Message(40);
        Assert.Equal(EnqueueResult.Accepted, queue.TryEnqueue(a));
        Assert.Equal(EnqueueResult.Accepted, queue.TryEnqueue(b));
        queue.Dispose();
        a.Release();
        b.Release();
    }

    [Fact]
    public void Empty_queue_accepts_one_message_larger_than_the_bound()
    {
        var queue = new OutboundQueue(100);
        var big = Message(500);
        var next = Message(1);
        Assert.Equal(EnqueueResult.Accepted, queue.TryEnqueue(big));
        Assert.Equal(EnqueueResult.OverLimit, queue.TryEnqueue(next));
        queue.Dispose();
        Assert.Equal(1, big.RefCount);
        big.Release();
        next.Release();
    }

    [Fact]
    public void Bytes_in_flight_count_toward_the_bound_so_a_stalled_send_cannot_grow_memory()
    {
        var queue = new OutboundQueue(100);
        var segments = new List<ReadOnlyMemory<byte>>();
        var first = Message(60);
        queue.TryEnqueue(first);
        queue.Drain(segments); // the send never completes
        var second = Message(60);
        Assert.Equal(EnqueueResult.OverLimit, queue.TryEnqueue(second));
        queue.Dispose();
        Assert.Equal(1, first.RefCount);
        first.Release();
        second.Release();
    }

    [Fact]
    public void Drain_returns_everything_queued_in_order_for_one_gathered_send()
    {
        var queue = new OutboundQueue(1 << 20);
        var messages = Enumerable.Range(1, 50).Select(i => OutboundMessage.Copy([(byte)i], i)).ToArray();
        foreach (var m in messages)
        {
            Assert.Equal(EnqueueResult.Accepted, queue.TryEnqueue(m));
        }

        var segments = new List<ReadOnlyMemory<byte>>();
        Assert.Equal(50, queue.Drain(segments));
        Assert.Equal(Enumerable.Range(1, 50).Select(i => (byte)i), segments.Select(s => s.Span[0]));
        Assert.Throws<InvalidOperationException>(() => queue.Drain(segments)); // previous batch not released
        queue.ReleaseSent();
        Assert.Equal(0, queue.Drain(segments));
        Assert.Empty(segments);
        foreach (var m in messages)
        {
            Assert.Equal(1, m.RefCount);
            m.Release();
        }
    }

    [Fact]
    public async Task Waiting_send_loop_is_woken_once_for_a_burst()
    {
        var queue = new OutboundQueue(1 << 20);
        var wait = queue.WaitAsync();
        Assert.False(wait.IsCompleted);

        var messages = Enumerable.Range(0, 10).Select(_ => Message(8)).ToArray();
        foreach (var m in messages)
        {
            queue.TryEnqueue(m);
        }
        Assert.True(await wait);

        var segments = new List<ReadOnlyMemory<byte>>();
        Assert.Equal(10, queue.Drain(segments)); // the whole burst in one batch
        queue.ReleaseSent();

        // Nothing queued: the next wait is pending again; completing the queue ends the loop.
        var next = queue.WaitAsync();
        Assert.False(next.IsCompleted);
        queue.Complete();
        Assert.False(await next);
        Assert.Equal(EnqueueResult.Closed, queue.TryEnqueue(messages[0]));
        foreach (var m in messages)
        {
            m.Release();
        }
    }

    [Fact]
    public async Task Wake_resumes_the_send_loop_without_a_message_and_coalesces()
    {
        var queue = new OutboundQueue(1 << 20);
        var wait = queue.WaitAsync();
        Assert.False(wait.IsCompleted);
        queue.Wake();
        queue.Wake();
        Assert.True(await wait);
        Assert.Equal(0, queue.Drain([]));

        // A wake while the loop is busy is remembered once.
        queue.Wake();
        queue.Wake();
        Assert.True(await queue.WaitAsync());
        Assert.False(queue.WaitAsync().IsCompleted);
        queue.Dispose();
    }

    [Fact]
    public async Task Completed_queue_still_drains_what_was_queued_before_reporting_the_end()
    {
        var queue = new OutboundQueue(1 << 20);
        var message = Message(10);
        queue.TryEnqueue(message);
        queue.Complete();
        Assert.True(await queue.WaitAsync());
        var segments = new List<ReadOnlyMemory<byte>>();
        Assert.Equal(1, queue.Drain(segments));
        queue.ReleaseSent();
        Assert.False(await queue.WaitAsync());
        message.Release();
        Assert.Equal(0, message.RefCount);
    }

    [Fact]
    public async Task Over_limit_wakes_a_waiting_send_loop_to_see_the_end()
    {
        var queue = new OutboundQueue(10);
        var segments = new List<ReadOnlyMemory<byte>>();
        var first = Message(8);
        queue.TryEnqueue(first);
        Assert.True(await queue.WaitAsync());
        queue.Drain(segments); // in flight, not released: the client does not read
        var wait = queue.WaitAsync();
        var second = Message(8);
        Assert.Equal(EnqueueResult.OverLimit, queue.TryEnqueue(second));
        Assert.False(await wait);
        queue.Dispose();
        Assert.Equal(1, first.RefCount);
        first.Release();
        second.Release();
    }

    [Fact]
    public void Discard_queued_releases_what_was_not_drained_and_keeps_the_in_flight_batch()
    {
        var queue = new OutboundQueue(1 << 20);
        var inFlight = Message(5);
        var queued = Message(7);
        queue.TryEnqueue(inFlight);
        queue.Drain([]);
        queue.TryEnqueue(queued);
        Assert.Equal(1, queue.DiscardQueued());
        Assert.Equal(1, queued.RefCount);
        Assert.Equal(2, inFlight.RefCount);
        Assert.Equal(5, queue.PendingBytes);
        Assert.Equal(EnqueueResult.Closed, queue.TryEnqueue(queued));
        queue.ReleaseSent();
        Assert.Equal(1, inFlight.RefCount);
        queue.Dispose();
        inFlight.Release();
        queued.Release();
    }

    [Fact]
    public void Dispose_releases_queued_and_in_flight_messages_once()
    {
        var queue = new OutboundQueue(1 << 20);
        var inFlight = Message(5);
        var queued = Message(5);
        queue.TryEnqueue(inFlight);
        queue.Drain([]);
        queue.TryEnqueue(queued);
        queue.Dispose();
        queue.Dispose();
        Assert.Equal(1, inFlight.RefCount);
        Assert.Equal(1, queued.RefCount);
        inFlight.Release();
        queued.Release();
    }

    [Fact]
    public async Task Every_message_is_released_exactly_once_under_concurrent_producers_and_a_closing_consumer()
    {
        for (var round = 0; round < 20; round++)
        {
            const int producers = 4;
            const int perProducer = 2000;
            var queue = new OutboundQueue(64 * 1024);
            var all = new OutboundMessage[producers * perProducer];
            for (var i = 0; i < all.Length; i++)
            {
                all[i] = Message(16 + (i % 48));
            }

            var accepted = 0;
            var consumer = Task.Run(async () =>
            {
                var segments = new List<ReadOnlyMemory<byte>>();
                var batches = 0;
                while (await queue.WaitAsync())
                {
                    queue.Drain(segments);
                    queue.ReleaseSent();
                    if (++batches == 50 + round * 10)
                    {
                        queue.Complete(); // the connection starts closing mid-stream
                    }
                }
            });
            var producerTasks = Enumerable.Range(0, producers).Select(p => Task.Run(() =>
            {
                for (var i = 0; i < perProducer; i++)
                {
                    if (queue.TryEnqueue(all[p * perProducer + i]) == EnqueueResult.Accepted)
                    {
                        Interlocked.Increment(ref accepted);
                    }
                }
            })).ToArray();

            await Task.WhenAll(producerTasks);
            queue.Complete();
            await consumer;
            queue.Dispose();

            Assert.True(accepted > 0);
            foreach (var message in all)
            {
                Assert.Equal(1, message.RefCount); // only the creator's reference is left
                message.Release();
                Assert.Equal(0, message.RefCount);
            }
        }
    }
}
