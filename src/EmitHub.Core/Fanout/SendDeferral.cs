namespace EmitHub.Core.Fanout;

/// <summary>
/// How many turns a woken send loop (WebSocket or Server-Sent Events) waits at the back of the thread pool's global
/// queue (<c>await Task.Yield()</c>) before it drains its <see cref="OutboundQueue"/>, so the broadcasts that follow
/// join the same gathered send:
/// <code>
/// var turns = 0;
/// do { await Task.Yield(); } while (SendDeferral.AnotherTurn(++turns));
/// </code>
/// <para>
/// One turn always: a broadcast wakes every subscriber at once, so by the time a connection's turn comes round again
/// the frames of the broadcasts that followed are queued too. Once costs a few microseconds when idle and doubled
/// deliveries/s under load (1k clients: 0.68 -> 1.35 M/s, ~5 -> ~19 frames per send; bench/results/2026-11-29-*.md).
/// More turns only while other work items are pending (the CPU is busy anyway), at most <see cref="MaxTurns"/> in all:
/// at 10k clients and max rate that took frames per send from ~12 to ~28 and deliveries/s from ~1.1 M to ~1.9 M, with
/// a lower p99 (bench/results/2026-12-06-send-deferral.md). The bound keeps a send from starving behind a pool that
/// never drains.
/// </para>
/// </summary>
public static class SendDeferral
{
    /// <summary>Most turns in all. 6 measured as well as 8 and better than 4 or 12 at 10k clients and max rate.</summary>
    public const int MaxTurns = 6;

    /// <summary>True when a send loop that has waited <paramref name="turns"/> turns should wait one more: fewer than
    /// <see cref="MaxTurns"/> so far and other work items still pending in the thread pool.</summary>
    public static bool AnotherTurn(int turns) => turns < MaxTurns && ThreadPool.PendingWorkItemCount > 0;
}
