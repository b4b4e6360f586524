using System.Net;
using System.Net.Sockets;
using EmitHub.Net.Transport;

namespace EmitHub.Tests.Transport;

/// <summary>
/// The epoll transport's socket I/O (issue 10) against real loopback sockets: gathered sends that outgrow the socket
/// buffer wait for writable edges and resume at the exact byte, more segments than one sendmsg takes, waits ended by
/// close, the peer's FIN, and a thousand-plus registrations (the loop's slot array grows and slots are reused).
/// </summary>
public class EpollSocketTests
{
    private static async Task<(Socket Listener, Socket Client, Socket Server)> PairAsync()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await listener.AcceptAsync();
        return (listener, client, server);
    }

    private static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task A_gathered_send_larger_than_the_socket_buffers_waits_for_the_reader_and_arrives_whole_in_order()
    {
        var (listener, client, server) = await PairAsync();
        using var _ = listener;
        using var __ = client;
        using var ___ = server;
        server.SendBufferSize = 16 * 1024;
        client.ReceiveBufferSize = 16 * 1024;
        var io = new EpollSocket(server, EpollEventLoop.Shared);
        // 200 segments (more than the 64 one sendmsg takes), each a slice of a larger array at an odd offset, 8 MiB
        // in all: far beyond what the kernel buffers, so the send must stop at EAGAIN, wait, and resume mid-segment.
        var random = new Random(7);
        var segments = new List<ArraySegment<byte>>();
        var expected = new MemoryStream();
        for (var i = 0; i < 200; i++)
        {
            var array = Pattern(random.Next(1, 80_000) + 64, i);
            var offset = random.Next(0, 32);
            var count = array.Length - offset - random.Next(0, 32);
            segments.Add(new ArraySegment<byte>(array, offset, count));
            expected.Write(array, offset, count);
        }
        var send = io.SendAsync(segments).AsTask();
        await Task.Delay(100);
        Assert.False(send.IsCompleted, "the peer has not read: the send must be waiting for room");

        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        while (received.Length < expected.Length)
        {
            var n = await client.ReceiveAsync(buffer);
            Assert.NotEqual(0, n);
            received.Write(buffer, 0, n);
        }
        var result = await send.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(expected.ToArray(), received.ToArray());
        io.Close();
    }

    [Fact]
    public async Task Close_ends_a_send_waiting_for_room_and_a_readiness_wait_with_operation_aborted()
    {
        var (listener, client, server) = await PairAsync();
        using var _ = listener;
        using var __ = client;
        server.SendBufferSize = 16 * 1024;
        client.ReceiveBufferSize = 16 * 1024;
        var io = new EpollSocket(server, EpollEventLoop.Shared);
        var send = io.SendAsync([new ArraySegment<byte>(new byte[4 * 1024 * 1024])]).AsTask();
        var wait = io.WaitReadableAsync().AsTask();
        await Task.Delay(50);
        Assert.False(send.IsCompleted);
        Assert.False(wait.IsCompleted);

        server.Dispose();
        io.Close();
        Assert.Equal(SocketError.OperationAborted, (await send.WaitAsync(TimeSpan.FromSeconds(5))).Error);
        Assert.Equal(SocketError.OperationAborted, (await wait.WaitAsync(TimeSpan.FromSeconds(5))).Error);
        // Later operations fail the same way instead of touching a closed (possibly reused) descriptor.
        Assert.Equal(SocketError.OperationAborted, (await io.WaitReadableAsync()).Error);
        Assert.Equal(SocketError.OperationAborted, (await io.SendAsync([new ArraySegment<byte>(new byte[1])])).Error);
    }

    [Fact]
    public async Task The_peers_fin_wakes_the_wait_and_the_receive_returns_zero_bytes()
    {
        var (listener, client, server) = await PairAsync();
        using var _ = listener;
        using var ___ = server;
        var io = new EpollSocket(server, EpollEventLoop.Shared);
        var wait = io.WaitReadableAsync().AsTask();
        await Task.Delay(20);
        Assert.False(wait.IsCompleted);
        client.Shutdown(SocketShutdown.Send);
        Assert.True((await wait.WaitAsync(TimeSpan.FromSeconds(5))).Succeeded);
        var received = await io.ReceiveAsync(new byte[16]);
        Assert.Equal(new SocketOperationResult(0, SocketError.Success), received);
        client.Dispose();
        io.Close();
    }

    [Fact]
    public async Task Fifteen_hundred_sockets_each_wake_for_their_own_byte_and_free_their_slots()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(2048);
        var before = EpollEventLoop.Shared.RegisteredCount;
        var pairs = new List<(Socket Client, Socket Server, EpollSocket Io)>();
        try
        {
            // Two rounds: the second reuses the slots the first freed (a stale edge must not reach a new owner).
            for (var round = 0; round < 2; round++)
            {
                for (var i = 0; i < 750; i++)
                {
                    var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    await client.ConnectAsync(listener.LocalEndPoint!);
                    var server = await listener.AcceptAsync();
                    pairs.Add((client, server, new EpollSocket(server, EpollEventLoop.Shared)));
                }
                var waits = pairs.Select(p => p.Io.WaitReadableAsync().AsTask()).ToArray();
                for (var i = 0; i < pairs.Count; i++)
                {
                    pairs[i].Client.Send([(byte)i]);
                }
                await Task.WhenAll(waits).WaitAsync(TimeSpan.FromSeconds(20));
                var buffer = new byte[4];
                for (var i = 0; i < pairs.Count; i++)
                {
                    Assert.True((await waits[i]).Succeeded);
                    var received = await pairs[i].Io.ReceiveAsync(buffer);
                    Assert.Equal(1, received.BytesTransferred);
                    Assert.Equal((byte)i, buffer[0]);
                }
                if (round == 0)
                {
                    // Close every other connection; the next round's registrations take their slots.
                    for (var i = pairs.Count - 1; i >= 0; i -= 2)
                    {
                        pairs[i].Server.Dispose();
                        pairs[i].Io.Close();
                        pairs[i].Client.Dispose();
                        pairs.RemoveAt(i);
                    }
                }
            }
            Assert.True(EpollEventLoop.Shared.RegisteredCount >= before + pairs.Count);
        }
        finally
        {
            foreach (var (client, server, io) in pairs)
            {
                server.Dispose();
                io.Close();
                client.Dispose();
            }
        }
    }
}
