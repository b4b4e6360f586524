namespace EmitHub.Net.WebSockets;

/// <summary>
/// The server-wide bound on memory held by client messages still waiting for their last frame
/// (<c>[websocket] max_partial_message_bytes</c>, issue 9). Each connection holds a <see cref="Lease"/> and reports
/// the bytes its reader holds for the message being assembled; when a report takes the total past
/// <see cref="MaxBytes"/>, the leases holding the most are evicted, largest first, until the total fits again: their
/// bytes leave the total at once and each evicted connection is told (it closes 1009 and stops reading, which returns
/// its buffer). Reports from an evicted or disposed lease are ignored, so the total never counts a connection that
/// is on its way out. Thread-safe; the lock is taken only when a connection's held bytes change (a message that
/// arrives whole within one read never reports).
/// </summary>
public sealed class PartialMessageBudget
{
    private readonly Lock _lock = new();
    private readonly HashSet<Lease> _holders = new();
    private long _maxBytes;
    private long _heldBytes;
    private long _evictions;

    /// <summary>Creates a budget of <paramref name="maxBytes"/> bytes.</summary>
    public PartialMessageBudget(long maxBytes) => MaxBytes = maxBytes;

    /// <summary>The bound in bytes (≥ 1). Set from the live configuration as connections open, so a hot reload applies
    /// from the next report on.</summary>
    public long MaxBytes
    {
        get => Volatile.Read(ref _maxBytes);
        set => Volatile.Write(ref _maxBytes, Math.Max(1, value));
    }

    /// <summary>Bytes held now by the partial messages of connections not evicted. Never above <see cref="MaxBytes"/>
    /// after a report returns.</summary>
    public long HeldBytes
    {
        get
        {
            lock (_lock)
            {
                return _heldBytes;
            }
        }
    }

    /// <summary>Connections evicted since start (each closed 1009).</summary>
    public long Evictions => Interlocked.Read(ref _evictions);

    /// <summary>A lease for one connection; <paramref name="onEvicted"/> runs once, on the thread whose report
    /// passed the bound, outside the budget's lock. It must not block: close and cancel the read, nothing more.</summary>
    public Lease CreateLease(Action onEvicted)
    {
        ArgumentNullException.ThrowIfNull(onEvicted);
        return new Lease(this, onEvicted);
    }

    private void Report(Lease lease, long bytes)
    {
        List<Lease>? evicted = null;
        lock (_lock)
        {
            if (lease.Ended)
            {
                return;
            }
            _heldBytes += bytes - lease.Bytes;
            lease.Bytes = bytes;
            if (bytes > 0)
            {
                _holders.Add(lease);
            }
            else
            {
                _holders.Remove(lease);
            }
            var max = MaxBytes;
            while (_heldBytes > max && _holders.Count > 0)
            {
                var largest = _holders.MaxBy(h => h.Bytes)!;
                _holders.Remove(largest);
                _heldBytes -= largest.Bytes;
                largest.Bytes = 0;
                largest.Ended = true;
                _evictions++;
                (evicted ??= []).Add(largest);
            }
        }
        evicted?.ForEach(e => e.OnEvicted());
    }

    private void End(Lease lease)
    {
        lock (_lock)
        {
            if (lease.Ended)
            {
                return;
            }
            lease.Ended = true;
            _heldBytes -= lease.Bytes;
            lease.Bytes = 0;
            _holders.Remove(lease);
        }
    }

    /// <summary>One connection's share of the budget. Not thread-safe on its own: report from the read loop only.</summary>
    public sealed class Lease : IDisposable
    {
        private readonly PartialMessageBudget _budget;
        private readonly Action _onEvicted;
        private long _reported;

        internal Lease(PartialMessageBudget budget, Action onEvicted)
        {
            _budget = budget;
            _onEvicted = onEvicted;
        }

        // Guarded by the budget's lock.
        internal long Bytes;
        internal bool Ended;

        /// <summary>Reports that the connection's reader now holds <paramref name="bytes"/> for a partial message (0 when
        /// none is open). Cheap when nothing changed.</summary>
        public void Report(long bytes)
        {
            if (bytes != _reported)
            {
                _reported = bytes;
                _budget.Report(this, bytes);
            }
        }

        internal void OnEvicted() => _onEvicted();

        /// <summary>Returns the lease's bytes to the budget (the connection ended).</summary>
        public void Dispose() => _budget.End(this);
    }
}
