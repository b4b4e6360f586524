using System.Net;
using System.Net.Sockets;
using EmitHub.Net.Transport;

namespace EmitHub.Tests.Transport;

/// <summary>
/// The receive side of a plain TCP connection on the epoll readiness loop (issue 10): the interruptible wait under
/// races (the WebSocket hand-over and <c>CancelPendingInput</c> rely on it), a wait ended by closing, the loop's slots
/// freed and reused, and a receive that finds nothing.
/// </summary>
public class SocketReceiverTests
{
    private static Task<(Socket Client, Socket Server, Socket Listener)> ConnectAsync() =>
        LoopbackSockets.ConnectPairAsync(client => client.NoDelay = true);

    [Fact]
    public void The_epoll_loop_is_used_on_64_bit_linux()
    {
        Assert.Equal(OperatingSystem.IsLinux() && Environment.Is64BitProcess, EpollReadinessLoop.Shared is not null);
    }

    /// <summary>An interrupt ends a pending wait; the registration stays armed, detached; the next owner re-attaches
    /// to it and is woken by the next byte — whether that byte arrives before, during or after the interrupt. No
    /// wake-up is lost.</summary>
    [Fact]
    public async Task An_interrupted_wait_hands_its_armed_registration_to_the_next_waiter_without_losing_a_wakeup()
    {
        var (client, server, listener) = await ConnectAsync();
        using var _ = listener;
        using var __ = client;
        using var ___ = server;
        var receiver = new SocketReceiver(server);
        var buffer = new byte[16];
        var random = new Random(1234);

        for (var i = 0; i < 400; i++)
        {
            var wait = receiver.WaitReadableAsync().AsTask();
            var sendFirst = random.Next(3);
            if (sendFirst == 0)
            {
                await client.SendAsync(new byte[] { (byte)i });
            }
            var interrupter = Task.Run(() =>
            {
                Thread.SpinWait(random.Next(0, 2000));
                receiver.InterruptWait();
            });
            if (sendFirst == 1)
            {
                await client.SendAsync(new byte[] { (byte)i });
            }
            var first = await wait;
            await interrupter;
            Assert.True(first.IsInterrupted || first.Succeeded, $"iteration {i}: {first}");
            // Interrupts are sticky until cleared.
            Assert.True((await receiver.WaitReadableAsync()).IsInterrupted);
            receiver.ClearInterrupt();
            if (sendFirst == 2)
            {
                await client.SendAsync(new byte[] { (byte)i });
            }

            // The next owner: woken by the byte (sent before, during or after), exactly that byte is there.
            var ready = await receiver.WaitReadableAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(ready.Succeeded, $"iteration {i}: {ready}");
            var received = receiver.Receive(buffer);
            Assert.Equal(SocketError.Success, received.Error);
            Assert.Equal(1, received.BytesTransferred);
            Assert.Equal((byte)i, buffer[0]);
        }
        receiver.Close();
    }

    /// <summary>Closing a descriptor drops its epoll registration without an event: <c>Close</c> must end the wait
    /// (a connection's linger and WebSocket read loop would otherwise hang), and every later wait returns at once.</summary>
    [Fact]
    public async Task Close_after_the_socket_is_disposed_ends_a_pending_wait_with_operation_aborted()
    {
        var (client, server, listener) = await ConnectAsync();
        using var _ = listener;
        using var __ = client;
        var receiver = new SocketReceiver(server);
        var wait = receiver.WaitReadableAsync().AsTask();
        await Task.Delay(50);
        Assert.False(wait.IsCompleted);

        server.Dispose();
        receiver.Close();

        var result = await wait.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(SocketError.OperationAborted, result.Error);
        Assert.Equal(SocketError.OperationAborted, (await receiver.WaitReadableAsync()).Error);
        Assert.Equal(SocketError.OperationAborted, receiver.Receive(new byte[4]).Error);
        receiver.Close(); // idempotent
    }

    [Fact]
    public async Task A_receive_with_nothing_there_is_would_block_and_the_peers_fin_is_zero_bytes()
    {
        var (client, server, listener) = await ConnectAsync();
        using var _ = listener;
        using var ___ = server;
        var receiver = new SocketReceiver(server);
        var buffer = new byte[8];

        Assert.Equal(SocketError.WouldBlock, receiver.Receive(buffer).Error);

        await client.SendAsync("hi"u8.ToArray());
        Assert.True((await receiver.WaitReadableAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10))).Succeeded);
        var data = receiver.Receive(buffer);
        Assert.Equal((SocketError.Success, 2), (data.Error, data.BytesTransferred));

        client.Shutdown(SocketShutdown.Send);
        Assert.True((await receiver.WaitReadableAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10))).Succeeded);
        var fin = receiver.Receive(buffer);
        Assert.Equal((SocketError.Success, 0), (fin.Error, fin.BytesTransferred));
        client.Dispose();
        receiver.Close();
    }

    /// <summary>Many connections registering, waiting and closing at once, on more slots than the loop starts with
    /// (1,024): every wait is woken by its own connection's byte, and every slot is freed at the end.</summary>
    [Fact]
    public async Task Concurrent_connections_grow_and_reuse_the_loops_slots_and_each_wakes_only_for_its_own_data()
    {
        if (EpollReadinessLoop.Shared is not { } loop)
        {
            return;
        }
        var (_, firstServer, listener) = await ConnectAsync();
        firstServer.Dispose();
        using var __ = listener;
        const int Connections = 1500;
        var pairs = new (Socket Client, Socket Server, SocketReceiver Receiver)[Connections];
        for (var i = 0; i < Connections; i++)
        {
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await client.ConnectAsync(listener.LocalEndPoint!);
            var server = await listener.AcceptAsync();
            pairs[i] = (client, server, new SocketReceiver(server));
        }
        try
        {
            for (var round = 0; round < 3; round++)
            {
                var waits = pairs.Select(p => p.Receiver.WaitReadableAsync().AsTask()).ToArray();
                await Task.Delay(20);
                Assert.All(waits, w => Assert.False(w.IsCompleted));
                // Wake the odd connections only.
                for (var i = 1; i < Connections; i += 2)
                {
                    await pairs[i].Client.SendAsync(new[] { (byte)(i + round) });
                }
                for (var i = 1; i < Connections; i += 2)
                {
                    Assert.True((await waits[i].WaitAsync(TimeSpan.FromSeconds(10))).Succeeded);
                    var buffer = new byte[4];
                    var received = pairs[i].Receiver.Receive(buffer);
                    Assert.Equal((SocketError.Success, 1, (byte)(i + round)), (received.Error, received.BytesTransferred, buffer[0]));
                }
                await Task.Delay(20);
                for (var i = 0; i < Connections; i += 2)
                {
                    Assert.False(waits[i].IsCompleted, $"round {round}: connection {i} woke without data");
                    pairs[i].Receiver.InterruptWait();
                    Assert.True((await waits[i]).IsInterrupted);
                    pairs[i].Receiver.ClearInterrupt();
                }
            }
            Assert.All(pairs, p => Assert.True(loop.Holds(p.Receiver)));
            Assert.Equal(Connections, pairs.Select(p => (int)(uint)p.Receiver.Token).Distinct().Count());
        }
        finally
        {
            foreach (var (client, server, receiver) in pairs)
            {
                server.Dispose();
                receiver.Close();
                client.Dispose();
            }
        }
        Assert.All(pairs, p => Assert.False(loop.Holds(p.Receiver)));
    }
}
