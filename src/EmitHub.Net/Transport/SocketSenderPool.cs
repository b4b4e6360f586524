using System.Collections.Concurrent;

namespace EmitHub.Net.Transport;

/// <summary>
/// Send operations shared by every connection of the process (the idea of Kestrel's <c>SocketSenderPool</c>): a
/// connection rents a <see cref="SocketOperation"/> for one send and returns it once the send completed, so an idle
/// connection holds none. A <see cref="System.Net.Sockets.SocketAsyncEventArgs"/> with its runtime state is about
/// 0.4 KB; a hub holds thousands of connections that send nothing most of the time (issue 10, bytes per idle
/// WebSocket). Receives keep their own operation: an idle connection always has its readiness wait in flight.
/// </summary>
internal static class SocketSenderPool
{
    /// <summary>Operations kept for reuse at most (the rest are disposed on return): 1,024, about 0.4 MB.</summary>
    public const int MaxRetained = 1024;

    private static readonly ConcurrentQueue<SocketOperation> s_retained = new();
    private static int s_count;

    /// <summary>Operations retained now (for tests and diagnostics).</summary>
    public static int RetainedCount => Volatile.Read(ref s_count);

    /// <summary>A send operation for one send; give it back with <see cref="Return"/> after its result was read.</summary>
    public static SocketOperation Rent()
    {
        if (s_retained.TryDequeue(out var operation))
        {
            Interlocked.Decrement(ref s_count);
            return operation;
        }
        return new SocketOperation();
    }

    /// <summary>Takes back an operation whose send completed and whose result was read. It forgets the caller's
    /// buffers first, so a frame shared with other subscribers is not kept alive by the pool.</summary>
    public static void Return(SocketOperation operation)
    {
        operation.ForgetBuffers();
        if (Interlocked.Increment(ref s_count) > MaxRetained)
        {
            Interlocked.Decrement(ref s_count);
            operation.Dispose();
            return;
        }
        s_retained.Enqueue(operation);
    }
}
