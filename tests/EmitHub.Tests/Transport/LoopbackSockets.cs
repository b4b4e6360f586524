using System.Net;
using System.Net.Sockets;

namespace EmitHub.Tests.Transport;

/// <summary>Raw loopback sockets for transport tests: a connected pair, and exact reads.</summary>
internal static class LoopbackSockets
{
    /// <summary>A listener on a free loopback port, a client connected to it and the accepted server socket;
    /// <paramref name="configureClient"/> runs before the connect. The caller disposes all three.</summary>
    public static async Task<(Socket Client, Socket Server, Socket Listener)> ConnectPairAsync(Action<Socket>? configureClient = null)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(512);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        configureClient?.Invoke(client);
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await listener.AcceptAsync();
        return (client, server, listener);
    }

    /// <summary>Receives exactly <paramref name="count"/> bytes (fails on an early end or after 30 s).</summary>
    public static async Task<byte[]> ReceiveExactlyAsync(Socket socket, long count)
    {
        var buffer = new byte[count];
        var read = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (read < count)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, timeout.Token);
            Assert.NotEqual(0, n);
            read += n;
        }
        return buffer;
    }
}
