using System.Net.Sockets;
using System.Text;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Compression;

/// <summary>A WebSocket client at the byte level: sends its own handshake (with an optional
/// <c>Sec-WebSocket-Extensions</c> offer) and reads server frames as they are on the wire, RSV bits included.</summary>
internal sealed class RawWebSocket : IDisposable
{
    private readonly Socket _socket;
    private readonly List<byte> _buffer = new();

    private RawWebSocket(Socket socket) => _socket = socket;

    /// <summary>The server's <c>Sec-WebSocket-Extensions</c> answer, or null.</summary>
    public string? Extensions { get; private set; }

    public static async Task<RawWebSocket> ConnectAsync(TestHubServer hub, string id, string? offer, string path = "")
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(hub.EndPoint);
        var ws = new RawWebSocket(socket);
        var target = path.Length > 0 ? path : $"/api/v1/channels/{id}/ws";
        var request = $"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
                      (offer is null ? "" : $"Sec-WebSocket-Extensions: {offer}\r\n") + "\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None);
        var head = await ws.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 101", head);
        foreach (var line in head.Split("\r\n"))
        {
            if (line.StartsWith("Sec-WebSocket-Extensions:", StringComparison.OrdinalIgnoreCase))
            {
                ws.Extensions = line["Sec-WebSocket-Extensions:".Length..].Trim();
            }
        }
        return ws;
    }

    public Task SendAsync(byte[] bytes) => _socket.SendAsync(bytes, SocketFlags.None);

    /// <summary>Reads one whole server frame: its first header byte (FIN, RSV, opcode) and its payload.</summary>
    public async Task<(byte First, byte[] Payload)> ReadFrameAsync()
    {
        await FillAsync(2);
        var first = _buffer[0];
        var length = (long)(_buffer[1] & 0x7F);
        var headerLength = 2;
        if (length == 126)
        {
            await FillAsync(4);
            length = _buffer[2] << 8 | _buffer[3];
            headerLength = 4;
        }
        else if (length == 127)
        {
            await FillAsync(10);
            length = 0;
            for (var i = 2; i < 10; i++)
            {
                length = length << 8 | _buffer[i];
            }
            headerLength = 10;
        }
        await FillAsync(headerLength + (int)length);
        var payload = _buffer.GetRange(headerLength, (int)length).ToArray();
        _buffer.RemoveRange(0, headerLength + (int)length);
        return (first, payload);
    }

    private async Task<string> ReadHeadAsync()
    {
        while (true)
        {
            var text = Encoding.Latin1.GetString(_buffer.ToArray());
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                _buffer.RemoveRange(0, end + 4);
                return text[..end];
            }
            await ReceiveAsync();
        }
    }

    private async Task FillAsync(int count)
    {
        while (_buffer.Count < count)
        {
            await ReceiveAsync();
        }
    }

    private async Task ReceiveAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var chunk = new byte[64 * 1024];
        var n = await _socket.ReceiveAsync(chunk, SocketFlags.None, cts.Token);
        if (n == 0)
        {
            throw new IOException("The server closed the connection.");
        }
        _buffer.AddRange(chunk.AsSpan(0, n));
    }

    public void Dispose() => _socket.Dispose();
}
