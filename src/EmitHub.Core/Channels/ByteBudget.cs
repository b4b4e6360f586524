namespace EmitHub.Core.Channels;

/// <summary>
/// A server-wide bound on bytes held by one kind of in-memory cache (<c>replay_last_max_bytes</c>,
/// <c>catch_up_ring_max_bytes</c>): every <see cref="MessageRing"/> of that kind charges what it holds here. The limit
/// is read live, so a config reload applies to the next charge. Lock-free; a ring under its channel's lock charges
/// and refunds with one atomic operation each.
/// </summary>
internal sealed class ByteBudget(Func<long> limit)
{
    private long _used;

    /// <summary>Bytes charged now.</summary>
    public long Used => Volatile.Read(ref _used);

    /// <summary>The limit now, bytes.</summary>
    public long Limit => limit();

    /// <summary>Charges <paramref name="bytes"/> unless that would pass the limit; false leaves nothing charged.</summary>
    public bool TryCharge(long bytes)
    {
        var max = limit();
        var used = Volatile.Read(ref _used);
        while (true)
        {
            if (used + bytes > max)
            {
                return false;
            }
            var seen = Interlocked.CompareExchange(ref _used, used + bytes, used);
            if (seen == used)
            {
                return true;
            }
            used = seen;
        }
    }

    /// <summary>Gives back bytes charged earlier.</summary>
    public void Refund(long bytes) => Interlocked.Add(ref _used, -bytes);
}
