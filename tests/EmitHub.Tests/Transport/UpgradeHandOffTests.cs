using System.Buffers;
using EmitHub.Net.Http;
using EmitHub.Net.Transport;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmitHub.Tests.Transport;

/// <summary>
/// After an upgrade the transport does not stay parked awaiting the upgraded protocol (issue 10: one state machine
/// less per idle WebSocket): <see cref="ConnectionContext.RunAsync"/> completes once the protocol runs, and the
/// protocol's end closes the connection as a continuation: close reason, socket shut down, the owner's callback once,
/// then <see cref="ConnectionContext.HasClosed"/>.
/// </summary>
public class UpgradeHandOffTests
{
    private sealed class Upgraded(Task run) : IUpgradedConnection
    {
        public Task RunAsync(CancellationToken cancellationToken) => run;
    }

    public enum Ending
    {
        Completed,
        Faulted,
        CancelledByStop,
    }

    [Theory]
    [InlineData(Ending.Completed, ConnectionCloseReason.UpgradedProtocolClosed)]
    [InlineData(Ending.Faulted, ConnectionCloseReason.InternalError)]
    [InlineData(Ending.CancelledByStop, ConnectionCloseReason.ServerShutdown)]
    public async Task The_transport_hands_off_to_the_upgraded_protocol_and_closes_when_it_ends(Ending ending, ConnectionCloseReason expected)
    {
        var (client, server, listener) = await LoopbackSockets.ConnectPairAsync();
        using var _ = client;
        using var __ = listener;
        using var stopping = new CancellationTokenSource();
        var connection = new ConnectionContext(1, server, MemoryPool<byte>.Shared, TimeProvider.System, NullLogger.Instance);
        var protocol = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var closedCalls = 0;
        var run = connection.RunAsync(
            async c =>
            {
                // As the WebSocket upgrade does: the 101 goes out through the output pipe, then the protocol takes over.
                c.Output.Write("upgraded\n"u8);
                await c.Output.FlushAsync();
                return new Upgraded(protocol.Task);
            },
            stopping.Token,
            c => Interlocked.Increment(ref closedCalls));

        // Handed off: the transport's own task is done while the protocol still runs.
        await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(connection.HasClosed);
        Assert.Equal("upgraded\n"u8.ToArray(), await LoopbackSockets.ReceiveExactlyAsync(client, 9));

        switch (ending)
        {
            case Ending.Completed:
                protocol.SetResult();
                break;
            case Ending.Faulted:
                protocol.SetException(new InvalidOperationException("protocol failed"));
                break;
            case Ending.CancelledByStop:
                stopping.Cancel();
                protocol.SetCanceled(stopping.Token);
                break;
        }

        // The client sees the server's FIN (the send side shut down, then the socket closed).
        var buffer = new byte[16];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal(0, await client.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, timeout.Token));
        client.Shutdown(System.Net.Sockets.SocketShutdown.Send); // ends the server's linger at once

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!connection.HasClosed && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
        Assert.True(connection.HasClosed);
        Assert.Equal(1, Volatile.Read(ref closedCalls));
        Assert.Equal(expected, connection.CloseReason);
    }
}
