using EmitHub.Core.Channels;
using Microsoft.Extensions.Time.Testing;

namespace EmitHub.Tests.Channels;

public class GcraRateLimiterTests
{
    [Fact]
    public void A_full_bucket_allows_N_at_once_then_one_every_60_over_N_seconds_with_the_wait_in_whole_seconds()
    {
        var time = new FakeTimeProvider();
        var limiter = GcraRateLimiter.Create(3, time);

        for (var i = 0; i < 3; i++)
        {
            Assert.True(GcraRateLimiter.TryAcquire(limiter, out _));
        }
        Assert.False(GcraRateLimiter.TryAcquire(limiter, out var retryAfter));
        Assert.Equal(20, retryAfter);

        time.Advance(TimeSpan.FromSeconds(19.5));
        Assert.False(GcraRateLimiter.TryAcquire(limiter, out retryAfter));
        Assert.Equal(1, retryAfter);
        time.Advance(TimeSpan.FromSeconds(0.5));
        Assert.True(GcraRateLimiter.TryAcquire(limiter, out _));
        Assert.False(GcraRateLimiter.TryAcquire(limiter, out _));

        // Idle time refills up to the capacity, never past it.
        time.Advance(TimeSpan.FromMinutes(10));
        for (var i = 0; i < 3; i++)
        {
            Assert.True(GcraRateLimiter.TryAcquire(limiter, out _));
        }
        Assert.False(GcraRateLimiter.TryAcquire(limiter, out _));
    }

    [Fact]
    public void Zero_is_unlimited()
    {
        Assert.Null(GcraRateLimiter.Create(0, TimeProvider.System));
        Assert.True(GcraRateLimiter.TryAcquire(null, out var retryAfter));
        Assert.Equal(0, retryAfter);
    }

    [Fact]
    public void Concurrent_callers_get_exactly_the_capacity_no_more()
    {
        var limiter = GcraRateLimiter.Create(1000, new FakeTimeProvider());
        var allowed = 0;
        Parallel.For(0, 8, _ =>
        {
            for (var i = 0; i < 1000; i++)
            {
                if (GcraRateLimiter.TryAcquire(limiter, out _))
                {
                    Interlocked.Increment(ref allowed);
                }
            }
        });
        Assert.Equal(1000, allowed);
    }
}
