namespace EmitHub.Core.Cluster;

/// <summary>
/// One local subscriber's hold on a followed channel (<see cref="IClusterStore.Follow"/>): while any lease on a
/// channel is held the node keeps following it; once the last one is disposed the node stops after
/// <c>[cluster] unfollow_delay</c>, unless a new lease is taken meanwhile. Dispose is idempotent and thread-safe.
/// </summary>
public interface IClusterFollowLease : IDisposable
{
    /// <summary>
    /// Completes once the follower delivered every message stored when it started (at once for a follower that was
    /// already running); faults with <see cref="OperationCanceledException"/> when the follower was stopped first
    /// (the channel was deleted, or the store is closing). Never faults because NATS is unreachable: it waits.
    /// </summary>
    Task Ready { get; }
}
