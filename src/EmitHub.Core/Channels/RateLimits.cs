using System.Threading.RateLimiting;

namespace EmitHub.Core.Channels;

/// <summary>Token buckets for <c>rate_limit_per_minute</c> (SPEC §6: at most N in any 60 s, refilled at N per minute).</summary>
internal static class RateLimits
{
    private static readonly TimeSpan s_minimumPeriod = TimeSpan.FromMilliseconds(100);

    /// <summary>A bucket of capacity N refilled smoothly at N per minute, or null for 0 (unlimited).</summary>
    public static RateLimiter? Create(int perMinute)
    {
        if (perMinute <= 0)
        {
            return null;
        }
        // Refill in small steps rather than N tokens once a minute, so a client cannot get 2N across a boundary.
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMinutes(1).Ticks / perMinute, s_minimumPeriod.Ticks));
        var tokensPerPeriod = (int)Math.Max(1, Math.Round(perMinute * period.TotalMinutes));
        return new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = perMinute,
            TokensPerPeriod = tokensPerPeriod,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    /// <summary>Takes one token; on refusal gives whole seconds (≥ 1) until the next one.</summary>
    public static bool TryAcquire(RateLimiter? limiter, out int retryAfterSeconds)
    {
        retryAfterSeconds = 0;
        if (limiter is null)
        {
            return true;
        }
        using var lease = limiter.AttemptAcquire(1);
        if (lease.IsAcquired)
        {
            return true;
        }
        retryAfterSeconds = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
            ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))
            : 1;
        return false;
    }
}
