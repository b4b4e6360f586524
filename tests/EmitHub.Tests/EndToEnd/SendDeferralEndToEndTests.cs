using EmitHub.Net.WebSockets;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.EndToEnd;

/// <summary>
/// The send loop's deferral (issue 10): a woken WebSocket send waits extra turns at the back of the thread pool's
/// queue only while other work is pending, and only a bounded number of them. A pool that never drains must not
/// starve a subscriber: every broadcast still arrives, once and in order.
/// </summary>
[Collection(ThreadPoolSaturationCollection.Name)]
public class SendDeferralEndToEndTests
{
    /// <summary>A work item that queues itself again on every run, so the pool's global queue is never empty.</summary>
    private sealed class PoolSpinner : IThreadPoolWorkItem
    {
        private volatile bool _stopped;

        public void Start() => ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);

        public void Stop() => _stopped = true;

        public void Execute()
        {
            if (_stopped)
            {
                return;
            }
            Thread.SpinWait(50);
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    [Fact]
    public async Task Broadcasts_arrive_in_order_while_the_thread_pool_never_drains()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        var endpoint = Assert.IsType<WebSocketEndpoint>(hub.Server.WebSocketUpgrade);
        WebSocketConnection? accepted = null;
        endpoint.AcceptedForTests = w => accepted = w;
        using var client = await hub.ConnectAsync(id);
        // The hook runs just after the 101 is flushed, so only the `connected` envelope proves it ran.
        Assert.Equal("connected", (await client.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());
        endpoint.AcceptedForTests = null;

        var spinners = Enumerable.Range(0, 32).Select(_ => new PoolSpinner()).ToArray();
        try
        {
            foreach (var spinner in spinners)
            {
                spinner.Start();
            }
            // The case under test: work is pending whenever the send loop looks.
            var busySamples = 0;
            for (var i = 0; i < 20; i++)
            {
                if (ThreadPool.PendingWorkItemCount > 0)
                {
                    busySamples++;
                }
                await Task.Delay(1);
            }
            Assert.True(busySamples >= 15, $"the pool had pending work in only {busySamples} of 20 samples");

            const int Count = 30;
            for (var i = 1; i <= Count; i++)
            {
                var ack = await hub.BroadcastAsync(id, $"m{i}");
                Assert.Equal(1, ack.GetProperty("recipients").GetInt32());
            }
            for (var i = 1; i <= Count; i++)
            {
                // An unbounded deferral never sends while the spinners run: this would time out.
                var envelope = await client.ReceiveEnvelopeAsync(15);
                Assert.True(envelope.HasValue, $"closed after {i - 1} of {Count}");
                Assert.Equal(i, envelope!.Value.GetProperty("sequence").GetInt64());
                Assert.Equal($"m{i}", envelope.Value.GetProperty("message").GetString());
            }
            var sends = await SendCoalescingEndToEndTests.SendsAfterAsync(accepted!, 2);
            Assert.True(sends <= Count + 1, $"{sends} sends for {Count} broadcasts");
        }
        finally
        {
            foreach (var spinner in spinners)
            {
                spinner.Stop();
            }
        }
    }
}
