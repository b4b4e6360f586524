using System.Net;
using System.Net.Sockets;
using EmitHub.Net.Transport;

namespace EmitHub.Tests.Transport;

/// <summary>
/// Sends rent their <see cref="SocketOperation"/> from <see cref="SocketSenderPool"/> (issue 10: an idle connection
/// holds no send operation). A returned operation must keep no caller buffer alive (a shared frame would otherwise
/// live as long as the pool), and one operation must serve sends of different sockets in turn.
/// </summary>
public class SocketSenderPoolTests
{
    [Fact]
    public async Task A_returned_operation_holds_no_buffer_and_serves_another_socket_next()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var pairs = new List<(Socket Client, Socket Server)>();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await client.ConnectAsync(listener.LocalEndPoint!);
                pairs.Add((client, await listener.AcceptAsync()));
            }

            // Not from the pool: other tests running in parallel rent from it, and this one keeps using the operation
            // after the buffers are forgotten (what Return does before it hands the operation to the next sender).
            using var operation = new SocketOperation();
            var gathered = new List<ArraySegment<byte>> { new([1, 2, 3]), new([4, 5]) };
            var first = await operation.SendAsync(pairs[0].Server, gathered);
            Assert.Equal((5, SocketError.Success), (first.BytesTransferred, first.Error));
            operation.ForgetBuffers();
            Assert.Null(operation.BufferList);
            Assert.Null(operation.Buffer);
            Assert.True(operation.MemoryBuffer.IsEmpty);

            // The same operation, now for the other socket and a single segment.
            var single = new List<ArraySegment<byte>> { new([9, 8, 7, 6]) };
            var second = await operation.SendAsync(pairs[1].Server, single);
            Assert.Equal((4, SocketError.Success), (second.BytesTransferred, second.Error));

            Assert.Equal([1, 2, 3, 4, 5], await LoopbackSockets.ReceiveExactlyAsync(pairs[0].Client, 5));
            Assert.Equal([9, 8, 7, 6], await LoopbackSockets.ReceiveExactlyAsync(pairs[1].Client, 4));
        }
        finally
        {
            foreach (var (client, server) in pairs)
            {
                client.Dispose();
                server.Dispose();
            }
        }
    }

    [Fact]
    public async Task Return_forgets_the_senders_buffers()
    {
        var operation = SocketSenderPool.Rent();
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using var server = await listener.AcceptAsync();
        await operation.SendAsync(server, new List<ArraySegment<byte>> { new([1]), new([2]) });
        var frame = operation.BufferList;
        Assert.NotNull(frame);
        SocketSenderPool.Return(operation);
        // Read right after the return: a concurrent renter may already be configuring it, but never with our list.
        Assert.NotSame(frame, operation.BufferList);
    }

    [Fact]
    public void The_pool_retains_at_most_its_bound()
    {
        var rented = Enumerable.Range(0, SocketSenderPool.MaxRetained + 50).Select(_ => SocketSenderPool.Rent()).ToList();
        foreach (var operation in rented)
        {
            SocketSenderPool.Return(operation);
        }
        Assert.True(SocketSenderPool.RetainedCount <= SocketSenderPool.MaxRetained, $"{SocketSenderPool.RetainedCount} retained");
    }
}
