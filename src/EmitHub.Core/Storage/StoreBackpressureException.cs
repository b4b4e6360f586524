namespace EmitHub.Core.Storage;

/// <summary>
/// The store refused an append at once, without waiting, because the disk is behind: either
/// <see cref="FasterChannelStoreOptions.MaxPendingMessages"/> messages already wait for their commit, or FASTER's
/// in-memory log is full of pages not yet written. Nothing was appended, so no sequence was used; the caller answers
/// 503 with <c>Retry-After</c> (<see cref="RetryAfterSeconds"/>) and the client may retry.
/// </summary>
public sealed class StoreBackpressureException : IOException
{
    /// <summary>Creates the exception with an operator-facing sentence (what is full and the limit).</summary>
    public StoreBackpressureException(string message, int retryAfterSeconds = 1) : base(message)
    {
        RetryAfterSeconds = Math.Max(1, retryAfterSeconds);
    }

    /// <summary>Whole seconds (≥ 1) after which a retry may succeed: the <c>Retry-After</c> value.</summary>
    public int RetryAfterSeconds { get; }
}
