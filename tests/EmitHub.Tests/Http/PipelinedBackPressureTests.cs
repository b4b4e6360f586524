using System.Net.Sockets;
using System.Text;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Http;

/// <summary>
/// A client that pipelines many requests and never reads its answers must cost the server a bounded buffer, not one
/// answer per request (found by a hostile test: 10,000 pipelined <c>GET /docs</c> on one socket grew RSS by 500 MB).
/// </summary>
public sealed class PipelinedBackPressureTests
{
    [Fact]
    public async Task Pipelined_requests_from_a_client_that_never_reads_leave_a_bounded_unflushed_answer()
    {
        await using var hub = await TestHubServer.StartAsync();
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync(hub.EndPoint);
        // /docs answers ~40-50 KB each: 2,000 of them would be ~90 MB if every answer were buffered.
        var request = Encoding.ASCII.GetBytes("GET /docs HTTP/1.1\r\nHost: h\r\n\r\n");
        var burst = new byte[request.Length * 2000];
        for (var i = 0; i < 2000; i++)
        {
            request.CopyTo(burst, i * request.Length);
        }
        await socket.SendAsync(burst);

        long most = 0;
        for (var i = 0; i < 30; i++)
        {
            await Task.Delay(100);
            most = Math.Max(most, hub.Server.MaxBufferedOutputBytesForTests);
        }

        // At most the output pipe's pause threshold (1 MiB) plus the flush threshold and one answer; before the fix
        // every answer was buffered (~110 MB).
        Assert.InRange(most, 1, 2 * 1024 * 1024);
        // The server still serves everyone else.
        using var other = await hub.ConnectRawAsync();
        await other.SendAsync("GET /health HTTP/1.1\r\nHost: h\r\n\r\n");
        Assert.Equal(200, (await other.ReadResponseAsync())!.StatusCode);
    }
}
