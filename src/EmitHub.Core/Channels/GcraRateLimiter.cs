namespace EmitHub.Core.Channels;

/// <summary>
/// <c>rate_limit_per_minute</c> (SPEC §6) as the generic cell rate algorithm (GCRA, ITU-T I.371): exactly a token
/// bucket of capacity N refilled smoothly at N per minute, kept as one number — the theoretical arrival time of the
/// next request — and updated lazily with one compare-and-swap per request. No timer per channel or connection, no
/// lock, nothing to dispose: a limiter replaced by a PATCH keeps answering a caller that still holds it.
/// </summary>
internal sealed class GcraRateLimiter
{
    private readonly TimeProvider _time;
    private readonly long _emissionInterval;
    private readonly long _burstTolerance;
    private long _theoreticalArrival;

    private GcraRateLimiter(int perMinute, TimeProvider time)
    {
        _time = time;
        PerMinute = perMinute;
        // One request every 60 s / N; a burst of N may arrive at once (the bucket starts full).
        _emissionInterval = Math.Max(1, 60 * time.TimestampFrequency / perMinute);
        _burstTolerance = _emissionInterval * (perMinute - 1);
    }

    /// <summary>The configured rate, requests per minute (≥ 1).</summary>
    public int PerMinute { get; }

    /// <summary>A limiter for <paramref name="perMinute"/> requests per minute, or null for 0 (unlimited).</summary>
    public static GcraRateLimiter? Create(int perMinute, TimeProvider time) =>
        perMinute <= 0 ? null : new GcraRateLimiter(perMinute, time);

    /// <summary>Takes one request's allowance; on refusal gives whole seconds (≥ 1) until the next is allowed.
    /// A null <paramref name="limiter"/> (unlimited) always allows.</summary>
    public static bool TryAcquire(GcraRateLimiter? limiter, out int retryAfterSeconds)
    {
        retryAfterSeconds = 0;
        return limiter is null || limiter.TryAcquire(out retryAfterSeconds);
    }

    private bool TryAcquire(out int retryAfterSeconds)
    {
        while (true)
        {
            var now = _time.GetTimestamp();
            var seen = Volatile.Read(ref _theoreticalArrival);
            var arrival = Math.Max(seen, now);
            var wait = arrival - _burstTolerance - now;
            if (wait > 0)
            {
                retryAfterSeconds = (int)Math.Clamp((wait + _time.TimestampFrequency - 1) / _time.TimestampFrequency, 1, int.MaxValue);
                return false;
            }
            if (Interlocked.CompareExchange(ref _theoreticalArrival, arrival + _emissionInterval, seen) == seen)
            {
                retryAfterSeconds = 0;
                return true;
            }
        }
    }
}
