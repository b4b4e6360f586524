using System.Net.Sockets;

namespace EmitHub.Tests.Transport;

/// <summary>Reads from raw loopback sockets in transport tests.</summary>
internal static class LoopbackSockets
{
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
