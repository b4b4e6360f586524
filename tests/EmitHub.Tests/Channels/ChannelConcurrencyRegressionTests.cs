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

        async Task Loop(Func<int, Task> body)
        {
            await Task.Yield();
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
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

        var broadcasters = Enumerable.Range(0, 3).Select(_ => Task.Run(() => Loop(async n =>
        {
            var result = await registry.BroadcastAsync(Id(n & 1), Broadcast("x"), default);
            outcomes.AddOrUpdate(result.Error, 1, (_, c) => c + 1);
        })));
        var patcher = Task.Run(() => Loop(async n =>
            await registry.UpdateAsync(Id(n & 1), (n & 2) == 0 ? slower! : faster!, default)));
        var deleter = Task.Run(() => Loop(async n =>
        {
            var slot = n & 1;
            await registry.DeleteAsync(Id(slot), default);
            var created = await registry.CreateAsync(new ChannelCreateRequest("r", null, new ChannelSettingsPatch(RateLimitPerMinute: 1000000)), default);
            await registry.StartAsync(created.Channel!.Id, default);
            lock (ids) { ids[slot] = created.Channel.Id; }
        }));
        await Task.WhenAll([.. broadcasters, patcher, deleter]);

        Assert.Empty(errors.Select(e => e.GetType().Name + ": " + e.Message).Distinct());
        Assert.True(outcomes.GetValueOrDefault(ChannelError.None) > 0, "no broadcast succeeded");
        // Only the answers a race may legitimately give: the channel was deleted (404) or is not yet started (409).
        Assert.Empty(outcomes.Keys.Except([ChannelError.None, ChannelError.NotFound, ChannelError.Conflict]));
    }
}
