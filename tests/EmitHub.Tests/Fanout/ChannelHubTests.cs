using EmitHub.Core.Fanout;

namespace EmitHub.Tests.Fanout;

public class ChannelHubTests
{
    [Fact]
    public void Publish_offers_the_same_frame_to_every_subscriber_and_counts_recipients()
    {
        var hub = new ChannelHub();
        var subscribers = Enumerable.Range(0, 5).Select(_ => new FakeSubscriber()).ToArray();
        foreach (var s in subscribers)
        {
            Assert.True(hub.TryAdd(s));
        }

        var message = OutboundMessage.Copy("hello"u8);
        Assert.Equal(5, hub.Publish(message));
        Assert.Equal(6, message.RefCount);

        var segments = new List<ReadOnlyMemory<byte>>();
        foreach (var s in subscribers)
        {
            s.Queue.Drain(segments);
            Assert.True(segments[0].Equals(message.Frame)); // the very same bytes, not a copy
            s.Queue.ReleaseSent();
        }
        message.Release();
        Assert.Equal(0, message.RefCount);
    }

    [Fact]
    public void Slow_consumer_is_skipped_and_closed_1008_while_the_others_receive()
    {
        var hub = new ChannelHub();
        var slow = new FakeSubscriber(maxPendingBytes: 10);
        var fast = new FakeSubscriber();
        hub.TryAdd(slow);
        hub.TryAdd(fast);

        var first = OutboundMessage.Copy(new byte[8]);
        var second = OutboundMessage.Copy(new byte[8]);
        Assert.Equal(2, hub.Publish(first));
        Assert.Equal(1, hub.Publish(second));
        Assert.Equal(1008, slow.CloseCode);
        Assert.Equal(0, fast.CloseCode);

        slow.Queue.Dispose();
        fast.Queue.Dispose();
        first.Release();
        second.Release();
        Assert.Equal(0, first.RefCount);
        Assert.Equal(0, second.RefCount);
    }

    [Fact]
    public void Add_refuses_duplicates_and_the_subscriber_past_the_maximum()
    {
        var hub = new ChannelHub();
        var a = new FakeSubscriber();
        Assert.True(hub.TryAdd(a, maxSubscribers: 2));
        Assert.False(hub.TryAdd(a, maxSubscribers: 2));
        Assert.True(hub.TryAdd(new FakeSubscriber(), maxSubscribers: 2));
        Assert.False(hub.TryAdd(new FakeSubscriber(), maxSubscribers: 2));
        Assert.Equal(2, hub.Count);
        Assert.True(hub.Remove(a));
        Assert.False(hub.Remove(a));
        Assert.Equal(1, hub.Count);
    }

    [Fact]
    public async Task Concurrent_adds_never_pass_the_maximum()
    {
        var hub = new ChannelHub();
        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => Task.Run(() => hub.TryAdd(new FakeSubscriber(), maxSubscribers: 50))));
        Assert.Equal(50, results.Count(r => r));
        Assert.Equal(50, hub.Count);
    }

    [Fact]
    public void Remove_all_empties_the_set_and_returns_everyone_once()
    {
        var hub = new ChannelHub();
        var subscribers = Enumerable.Range(0, 3).Select(_ => new FakeSubscriber()).ToArray();
        foreach (var s in subscribers)
        {
            hub.TryAdd(s);
        }

        var removed = hub.RemoveAll();

        Assert.Equal(subscribers, removed);
        Assert.Equal(0, hub.Count);
        Assert.Empty(hub.RemoveAll());
        Assert.False(hub.Remove(subscribers[0]));
    }

    [Fact]
    public async Task Adding_and_removing_while_publishing_loses_no_reference_and_stable_subscribers_get_everything()
    {
        var hub = new ChannelHub();
        var stable = Enumerable.Range(0, 8).Select(_ => new FakeSubscriber(long.MaxValue)).ToArray();
        foreach (var s in stable)
        {
            hub.TryAdd(s);
        }

        const int messages = 3000;
        var published = new OutboundMessage[messages];
        using var stop = new CancellationTokenSource();
        var churn = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            var mine = new List<FakeSubscriber>();
            while (!stop.IsCancellationRequested)
            {
                var s = new FakeSubscriber(long.MaxValue);
                hub.TryAdd(s);
                mine.Add(s);
                if (mine.Count > 4)
                {
                    Assert.True(hub.Remove(mine[0]));
                    mine[0].Queue.Dispose();
                    mine.RemoveAt(0);
                }
            }
            foreach (var s in mine)
            {
                hub.Remove(s);
                s.Queue.Dispose();
            }
        })).ToArray();

        var total = 0L;
        await Task.Run(() =>
        {
            for (var i = 0; i < messages; i++)
            {
                published[i] = OutboundMessage.Copy([(byte)i], i + 1);
                var recipients = hub.Publish(published[i]);
                Assert.InRange(recipients, stable.Length, stable.Length + 2 * 5);
                total += recipients;
            }
        });
        stop.Cancel();
        await Task.WhenAll(churn);

        var segments = new List<ReadOnlyMemory<byte>>();
        foreach (var s in stable)
        {
            Assert.Equal(messages, s.Queue.Drain(segments));
            Assert.Equal(Enumerable.Range(0, messages).Select(i => (byte)i), segments.Select(m => m.Span[0]));
            s.Queue.ReleaseSent();
        }
        Assert.Equal(stable.Length, hub.Count);
        Assert.True(total >= (long)messages * stable.Length);
        foreach (var message in published)
        {
            Assert.Equal(1, message.RefCount);
            message.Release();
        }
    }
}
