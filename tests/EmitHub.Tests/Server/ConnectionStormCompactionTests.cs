using EmitHub.Net.Server;
using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace EmitHub.Tests.Server;

/// <summary>The once-per-storm compacting collection (issue 10): when it fires and when it must not.</summary>
public class ConnectionStormCompactionTests
{
    [Fact]
    public void Compacts_once_after_a_storm_has_been_quiet_for_two_ticks()
    {
        var runs = 0;
        var policy = new ConnectionStormCompaction(() => runs++);
        long accepted = 0;
        // 5,000 connections arrive over five ticks: no collection while the storm lasts.
        for (var tick = 1; tick <= 5; tick++)
        {
            accepted += 1_000;
            Assert.False(policy.OnTick(accepted, (int)accepted));
        }
        // The first quiet tick is not enough; the second one compacts.
        Assert.False(policy.OnTick(accepted + 3, 5_000));
        Assert.True(policy.OnTick(accepted + 6, 5_000));
        Assert.Equal(1, runs);
        // Settled: quiet ticks and a trickle of reconnects below the growth threshold run nothing more.
        for (var tick = 0; tick < 20; tick++)
        {
            accepted += 10;
            Assert.False(policy.OnTick(accepted, 5_000 + tick * 10));
        }
        Assert.Equal(1, runs);
    }

    [Fact]
    public void A_storm_smaller_than_the_minimum_growth_compacts_nothing()
    {
        var runs = 0;
        var policy = new ConnectionStormCompaction(() => runs++);
        Assert.False(policy.OnTick(999, 999));
        for (var tick = 0; tick < 10; tick++)
        {
            Assert.False(policy.OnTick(999, 999));
        }
        Assert.Equal(0, runs);
    }

    [Fact]
    public void A_restart_storm_after_everyone_left_compacts_again()
    {
        var runs = 0;
        var policy = new ConnectionStormCompaction(() => runs++);
        policy.OnTick(2_000, 2_000);
        policy.OnTick(2_000, 2_000);
        Assert.True(policy.OnTick(2_000, 2_000));
        // Everyone leaves (a deploy of the displays), the baseline follows down, then everyone comes back.
        policy.OnTick(2_000, 100);
        policy.OnTick(4_000, 2_000);
        policy.OnTick(4_000, 2_000);
        Assert.True(policy.OnTick(4_000, 2_000));
        Assert.Equal(2, runs);
    }

    [Fact]
    public void Steady_churn_that_never_goes_quiet_does_not_compact()
    {
        var runs = 0;
        var policy = new ConnectionStormCompaction(() => runs++);
        long accepted = 0;
        for (var tick = 0; tick < 30; tick++)
        {
            accepted += 500;
            policy.OnTick(accepted, Math.Min(3_000, (int)accepted));
        }
        Assert.Equal(0, runs);
    }

    [Fact]
    public async Task A_real_server_compacts_once_after_websockets_arrive_and_settle()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var hub = await TestHubServer.StartAsync(time: time, configureServer: s => s.StormMinimumGrowth = 40);
        var id = await hub.CreateActiveChannelAsync();
        var clients = new List<RawWebSocketClient>();
        try
        {
            for (var i = 0; i < 45; i++)
            {
                var ws = await RawWebSocketClient.ConnectAsync(hub.EndPoint, $"/api/v1/channels/{id}/ws");
                await ws.ReadEventsAsync(e => e.Any(x => x.Contains("\"connected\"", StringComparison.Ordinal)));
                clients.Add(ws);
            }
            // The tick that sees the arrivals is not quiet; two quiet ones follow.
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(0, hub.Server.StormCompactions);
            time.Advance(TimeSpan.FromSeconds(1));
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(1, hub.Server.StormCompactions);
            time.Advance(TimeSpan.FromSeconds(5));
            Assert.Equal(1, hub.Server.StormCompactions);

            // The connections survived the collection: a broadcast still reaches every one.
            await hub.BroadcastAsync(id, "after-compaction");
            foreach (var ws in clients)
            {
                var events = await ws.ReadEventsAsync(e => e.Any(x => x.Contains("after-compaction", StringComparison.Ordinal)));
                Assert.Contains(events, x => x.Contains("after-compaction", StringComparison.Ordinal));
            }
        }
        finally
        {
            foreach (var ws in clients)
            {
                ws.Dispose();
            }
        }
    }
}
