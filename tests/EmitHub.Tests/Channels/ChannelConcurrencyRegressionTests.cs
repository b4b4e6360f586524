using EmitHub.Core.Channels;
using EmitHub.Net.Api;
using static EmitHub.Tests.Channels.ChannelTestKit;

namespace EmitHub.Tests.Channels;

/// <summary>Failures that only show when REST calls race each other on one channel (issue 9).</summary>
public class ChannelConcurrencyRegressionTests
{
    [Fact]
    public async Task Broadcasts_racing_patches_and_deletes_never_see_a_disposed_rate_limiter()
    {
        // Round 1: BroadcastAsync used the channel's limiter outside the lock while PATCH (a new rate) and DELETE
        // disposed it under the lock: ObjectDisposedException, answered 500.
        var registry = NewRegistry();
        var ids = new Guid[2];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = (await CreateAsync(registry, """{"name":"r","settings":{"rate_limit_per_minute":1000000}}""")).Id;
            await registry.StartAsync(ids[i], default);
        }
        Assert.True(ChannelRequests.TryParsePatch("""{"settings":{"rate_limit_per_minute":999999}}"""u8, out var slower, out _));
        Assert.True(ChannelRequests.TryParsePatch("""{"settings":{"rate_limit_per_minute":1000000}}"""u8, out var faster, out _));
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var outcomes = new System.Collections.Concurrent.ConcurrentDictionary<ChannelError, int>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));

        Guid Id(int slot)
        {
            lock (ids)
            {
                return ids[slot];
            }
        }

        // Each round yields: the bodies mostly complete synchronously, and five loops that never yield hold the
        // thread pool's threads (2 on a 2-core machine), so the patcher, the deleter and even the 2 s stop timer waited
        // for the pool to grow (measured: patcher first ran after 16 s, or never, the test ran 23 s) while the
        // broadcasters emptied the limiters' buckets (1,000,000 each) and got 429s.
        async Task Loop(Func<int, Task> body)
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                await Task.Yield();
                try
                {
                    await body(n);
                }
                catch (Exception e)
                {
                    errors.Enqueue(e);
                }
            }
        }

        // Fewer broadcasts in all than one limiter's bucket holds (999,999), so even a limiter that no PATCH or DELETE
        // replaced never runs dry: any 429 is a limiter or a replacement refusing wrongly.
        const int MaxBroadcasts = 900_000;
        var attempts = 0;
        var patches = 0;
        var recreations = 0;
        var broadcasters = Enumerable.Range(0, 3).Select(_ => Task.Run(() => Loop(async n =>
        {
            if (Interlocked.Increment(ref attempts) > MaxBroadcasts)
            {
                return;
            }
            var result = await registry.BroadcastAsync(Id(n & 1), Broadcast("x"), default);
            outcomes.AddOrUpdate(result.Error, 1, (_, c) => c + 1);
        })));
        var patcher = Task.Run(() => Loop(async n =>
        {
            await registry.UpdateAsync(Id(n & 1), (n & 2) == 0 ? slower! : faster!, default);
            Interlocked.Increment(ref patches);
        }));
        var deleter = Task.Run(() => Loop(async n =>
        {
            var slot = n & 1;
            await registry.DeleteAsync(Id(slot), default);
            var created = await registry.CreateAsync(new ChannelCreateRequest("r", null, new ChannelSettingsPatch(RateLimitPerMinute: 1000000)), default);
            await registry.StartAsync(created.Channel!.Id, default);
            lock (ids) { ids[slot] = created.Channel.Id; }
            Interlocked.Increment(ref recreations);
        }));
        await Task.WhenAll([.. broadcasters, patcher, deleter]);

        Assert.Empty(errors.Select(e => e.GetType().Name + ": " + e.Message).Distinct());
        Assert.True(outcomes.GetValueOrDefault(ChannelError.None) > 0, "no broadcast succeeded");
        // The race ran: limiters were replaced by PATCH and by DELETE + create while broadcasts used them.
        Assert.True(patches > 0 && recreations > 0, $"patches {patches}, recreations {recreations}");
        // Only the answers a race may legitimately give: the channel was deleted (404) or is not yet started (409).
        Assert.Empty(outcomes.Keys.Except([ChannelError.None, ChannelError.NotFound, ChannelError.Conflict]));
    }
}
