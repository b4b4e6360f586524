using EmitHub.Tests.Infrastructure;
using EmitHub.Tests.ServerSentEvents;

namespace EmitHub.Tests.EndToEnd;

/// <summary>
/// The send loops' deferral (<c>SendDeferral</c>, issue 10): a woken WebSocket or Server-Sent Events send waits extra
/// turns at the back of the thread pool's queue only while other work is pending, and only a bounded number of them.
/// A pool that never drains must not starve a subscriber: every broadcast still arrives, once and in order.
/// </summary>
[Collection(ThreadPoolSaturationCollection.Name)]
public class SendDeferralEndToEndTests
{
    private const int Count = 30;

    [Fact]
    public async Task WebSocket_broadcasts_arrive_in_order_while_the_thread_pool_never_drains()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        var (client, accepted) = await hub.ConnectAcceptedAsync(id);
        using var _ = client;

        using (await BusyPool.StartAsync())
        {
            await BroadcastAllAsync(hub, id);
            for (var i = 1; i <= Count; i++)
            {
                // An unbounded deferral never sends while the pool stays busy: this would time out.
                var envelope = await client.ReceiveEnvelopeAsync(15);
                Assert.True(envelope.HasValue, $"closed after {i - 1} of {Count}");
                Assert.Equal(i, envelope!.Value.GetProperty("sequence").GetInt64());
                Assert.Equal($"m{i}", envelope.Value.GetProperty("message").GetString());
            }
            var sends = await accepted.SendsAfterAsync(2);
            Assert.True(sends <= Count + 1, $"{sends} sends for {Count} broadcasts");
        }
    }

    [Fact]
    public async Task Server_sent_events_arrive_in_order_while_the_thread_pool_never_drains()
    {
        await using var hub = await TestHubServer.StartAsync();
        var id = await hub.CreateActiveChannelAsync();
        using var sse = await SseReader.OpenAsync(hub, id);
        Assert.Equal("connected", (await sse.ReadEventAsync())!.Event);

        using (await BusyPool.StartAsync())
        {
            await BroadcastAllAsync(hub, id);
            for (var i = 1; i <= Count; i++)
            {
                var sent = await sse.ReadEventAsync(15);
                Assert.True(sent is not null, $"stream ended after {i - 1} of {Count}");
                Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), sent!.Id);
                Assert.Equal($"m{i}", sent.Envelope.GetProperty("message").GetString());
            }
        }
    }

    private static async Task BroadcastAllAsync(TestHubServer hub, string id)
    {
        for (var i = 1; i <= Count; i++)
        {
            var ack = await hub.BroadcastAsync(id, $"m{i}");
            Assert.Equal(1, ack.GetProperty("recipients").GetInt32());
        }
    }

    /// <summary>32 work items that queue themselves again on every run, so the pool's global queue is never empty
    /// until disposed.</summary>
    private sealed class BusyPool : IDisposable
    {
        private readonly PoolSpinner[] _spinners = Enumerable.Range(0, 32).Select(_ => new PoolSpinner()).ToArray();

        public static async Task<BusyPool> StartAsync()
        {
            var pool = new BusyPool();
            foreach (var spinner in pool._spinners)
            {
                ThreadPool.UnsafeQueueUserWorkItem(spinner, preferLocal: false);
            }
            // The case under test: work is pending whenever a send loop looks.
            var busySamples = 0;
            for (var i = 0; i < 20; i++)
            {
                if (ThreadPool.PendingWorkItemCount > 0)
                {
                    busySamples++;
                }
                await Task.Delay(1);
            }
            if (busySamples < 15)
            {
                pool.Dispose();
                Assert.Fail($"the pool had pending work in only {busySamples} of 20 samples");
            }
            return pool;
        }

        public void Dispose()
        {
            foreach (var spinner in _spinners)
            {
                spinner.Stopped = true;
            }
        }
    }

    private sealed class PoolSpinner : IThreadPoolWorkItem
    {
        public volatile bool Stopped;

        public void Execute()
        {
            if (Stopped)
            {
                return;
            }
            Thread.SpinWait(50);
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }
}
