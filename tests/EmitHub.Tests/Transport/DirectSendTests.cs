using System.Buffers;
using System.Net;
using System.Net.Sockets;
using EmitHub.Net.Transport;

namespace EmitHub.Tests.Transport;

/// <summary>
/// The direct <c>sendmsg</c> first attempt of plain-TCP sends (<see cref="DirectSend"/>): it stops at EAGAIN with an
/// exact count, the runtime send finishes the rest from that byte, and the peer receives every byte once, in order;
/// a dead peer and a disposed socket come back as errors, never exceptions.
/// </summary>
public class DirectSendTests
{
    private static async Task<(Socket Client, Socket Server, Socket Listener)> PairAsync()
    {
        var pair = await LoopbackSockets.ConnectPairAsync(client => client.ReceiveBufferSize = 4096);
        pair.Server.SendBufferSize = 4096;
        return pair;
    }

    [Fact]
    public async Task A_send_larger_than_the_socket_buffers_stops_at_eagain_and_the_runtime_send_finishes_it_in_order()
    {
        Assert.True(DirectSend.IsSupported, "the hub runs on 64-bit Linux, where sends go through sendmsg first");
        var (client, server, listener) = await PairAsync();
        using (client)
        using (server)
        using (listener)
        {
            // 4 MiB over 300 segments of odd sizes, some sliced, each byte a function of its position.
            var segments = new List<ArraySegment<byte>>();
            long position = 0;
            var random = new Random(7);
            while (position < 4 << 20)
            {
                var size = random.Next(1, 40_000);
                var array = new byte[size + 10];
                for (var i = 0; i < size; i++)
                {
                    array[5 + i] = (byte)((position + i) * 31 % 251);
                }
                segments.Add(new ArraySegment<byte>(array, 5, size));
                position += size;
            }
            var total = position;

            var error = DirectSend.TrySend(server, segments, total, out var sent);
            Assert.Equal(SocketError.WouldBlock, error);
            Assert.InRange(sent, 1, total - 1);

            // The rest, through the full send: its own direct attempt hits EAGAIN again and the runtime finishes it.
            var remainder = new List<ArraySegment<byte>>();
            var skip = sent;
            foreach (var segment in segments)
            {
                if (skip >= segment.Count)
                {
                    skip -= segment.Count;
                    continue;
                }
                remainder.Add(segment.Slice((int)skip));
                skip = 0;
            }
            var receiving = LoopbackSockets.ReceiveExactlyAsync(client, total);
            var rest = await DirectSend.SendAsync(server, remainder);
            Assert.Equal((total - sent, SocketError.Success), (rest.BytesTransferred, rest.Error));
            var received = await receiving;
            for (var i = 0L; i < total; i++)
            {
                if (received[i] != (byte)(i * 31 % 251))
                {
                    Assert.Fail($"byte {i} differs (direct part ended at {sent})");
                }
            }
        }
    }

    [Fact]
    public async Task A_pipe_sequence_is_sent_whole_when_it_fits()
    {
        Assert.True(DirectSend.IsSupported, "the hub runs on 64-bit Linux, where sends go through sendmsg first");
        var (client, server, listener) = await PairAsync();
        using (client)
        using (server)
        using (listener)
        {
            var first = new Segment(new byte[] { 1, 2, 3 });
            var last = first.Append(new byte[] { 4, 5 });
            var sequence = new ReadOnlySequence<byte>(first, 0, last, 2);
            Assert.Equal(SocketError.Success, DirectSend.TrySend(server, sequence, out var sent));
            Assert.Equal(5, sent);
            Assert.Equal([1, 2, 3, 4, 5], await LoopbackSockets.ReceiveExactlyAsync(client, 5));
        }
    }

    [Fact]
    public async Task A_reset_peer_and_a_disposed_socket_are_errors_not_exceptions()
    {
        Assert.True(DirectSend.IsSupported, "the hub runs on 64-bit Linux, where sends go through sendmsg first");
        var (client, server, listener) = await PairAsync();
        using (listener)
        using (server)
        {
            client.LingerState = new LingerOption(true, 0);
            client.Dispose();
            var segments = new List<ArraySegment<byte>> { new(new byte[1000]) };
            var error = SocketError.Success;
            for (var i = 0; i < 100 && error == SocketError.Success; i++)
            {
                error = DirectSend.TrySend(server, segments, 1000, out _);
                await Task.Delay(10);
            }
            Assert.Contains(error, new[] { SocketError.ConnectionReset, SocketError.Shutdown });

            server.Dispose();
            Assert.Equal(SocketError.OperationAborted, DirectSend.TrySend(server, segments, 1000, out var sent));
            Assert.Equal(0, sent);
        }
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] data) => Memory = data;

        public Segment Append(byte[] data)
        {
            var next = new Segment(data) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
