using System.Collections.Concurrent;
using System.Diagnostics;

namespace EmitHub.Core.Fanout;

/// <summary>
/// Send coalescing (<c>[websocket] coalesce_window_ms</c>, issue 10): a send loop whose connection sent less than one
/// window ago corks its queue (<see cref="OutboundQueue.WaitCorkedAsync"/>) and registers it here instead of sending
/// at once; one process-wide timer uncorks every registered queue once per window, so the broadcasts that arrive
/// meanwhile leave in one gathered send. A connection that receives fewer than one message per window is never
/// corked (its previous send is older than the window) and pays no latency; a busy one pays at most one window.
/// <para>
/// Why: on a busy channel each delivery otherwise costs its own <c>sendmsg</c>, and on loopback or a virtualized NIC
/// the kernel's cost per send (and the receiver's wake-up) dominates the server's CPU per delivery
/// (bench/results/2026-12-06-coalescing.md). There is no timer per connection: registering appends to a list, and
/// the timer runs only while something is corked.
/// </para>
/// </summary>
public sealed class SendCoalescer
{
    private static readonly ConcurrentDictionary<TimeSpan, SendCoalescer> s_shared = new();

    private readonly Lock _gate = new();
    private readonly Lock _tickGate = new();
    private readonly Timer _timer;
    private List<OutboundQueue> _corked = new();
    private List<OutboundQueue> _spare = new();
    private bool _running;

    private SendCoalescer(TimeSpan window)
    {
        Window = window;
        WindowTimestampTicks = (long)(window.TotalSeconds * Stopwatch.Frequency);
        _timer = new Timer(static state => ((SendCoalescer)state!).Tick(), this, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>The process's coalescer for <paramref name="window"/> (one timer per distinct window, shared by every
    /// connection), or null for a zero window (coalescing off).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative window.</exception>
    public static SendCoalescer? For(TimeSpan window)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, TimeSpan.Zero);
        return window == TimeSpan.Zero ? null : s_shared.GetOrAdd(window, static w => new SendCoalescer(w));
    }

    /// <summary>The window: the longest a corked send waits, and the age of the previous send under which a send is
    /// corked.</summary>
    public TimeSpan Window { get; }

    /// <summary><see cref="Window"/> in <see cref="Stopwatch.GetTimestamp"/> units.</summary>
    public long WindowTimestampTicks { get; }

    /// <summary>True when a connection whose previous send was at <paramref name="lastSendTimestamp"/>
    /// (<see cref="Stopwatch.GetTimestamp"/>; 0 = never) should cork its next send.</summary>
    public bool ShouldCork(long lastSendTimestamp) =>
        lastSendTimestamp != 0 && Stopwatch.GetTimestamp() - lastSendTimestamp < WindowTimestampTicks;

    /// <summary>
    /// Uncorks <paramref name="queue"/> at the next tick (within one window). Call after
    /// <see cref="OutboundQueue.WaitCorkedAsync"/> armed the wait, never before: a tick between the two would be lost.
    /// </summary>
    public void Register(OutboundQueue queue)
    {
        ArgumentNullException.ThrowIfNull(queue);
        lock (_gate)
        {
            _corked.Add(queue);
            if (!_running)
            {
                _running = true;
                _timer.Change(Window, Window);
            }
        }
    }

    private void Tick()
    {
        // Ticks never overlap (a slow one makes the next skip): _spare is then only ever touched here.
        if (!_tickGate.TryEnter())
        {
            return;
        }
        try
        {
            List<OutboundQueue> batch;
            lock (_gate)
            {
                if (_corked.Count == 0)
                {
                    _running = false;
                    _timer.Change(Timeout.Infinite, Timeout.Infinite);
                    return;
                }
                batch = _corked;
                _corked = _spare;
                _spare = batch;
            }
            foreach (var queue in batch)
            {
                queue.Uncork();
            }
            batch.Clear();
        }
        finally
        {
            _tickGate.Exit();
        }
    }
}
