using System.Buffers;
using System.Net;
using EmitHub.Net.WebSockets;
using EmitHub.Tests.WebSockets;

namespace EmitHub.Tests.Infrastructure;

/// <summary>
/// A WebSocket client that writes exact frame bytes and reads the server's frames as events ("text:…", "pong:0A0B",
/// "close:1001:reason", "finished" after a close, "eof" when TCP ended, "timeout" after 30 s of silence), for tests that a real client library would
/// normalize away: bursts of pings in one write, half-sent fragmented messages, abrupt ends.
/// </summary>
public sealed class RawWebSocketClient : IDisposable
{
    private readonly RawHttpConnection _http;
    private readonly WebSocketProtocolReader _reader = new(new WebSocketReaderLimits(16 << 20, 16 << 20, RequireMaskedFrames: false, AcceptBinary: true));
    private byte[] _unread;

    private RawWebSocketClient(RawHttpConnection http, byte[] unread)
    {
        _http = http;
        _unread = unread;
    }

    /// <summary>The server's <c>Sec-WebSocket-Extensions</c> answer, or null.</summary>
    public string? Extensions { get; private init; }

    /// <summary>Opens <paramref name="path"/> with a valid handshake (offering <paramref name="extensions"/> in
    /// <c>Sec-WebSocket-Extensions</c> when given) and asserts the 101.</summary>
    /// <param name="endPoint">The hub.</param>
    /// <param name="path">The request target.</param>
    /// <param name="extensions">Offered extensions, or null.</param>
    /// <param name="pipelined">Client frames sent in the same write as the request head (so they arrive with it,
    /// before the 101 was sent), or null.</param>
    public static async Task<RawWebSocketClient> ConnectAsync(IPEndPoint endPoint, string path, string? extensions = null,
        byte[]? pipelined = null)
    {
        var http = await RawHttpConnection.ConnectAsync(endPoint);
        var head = System.Text.Encoding.Latin1.GetBytes($"GET {path} HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
            (extensions is null ? "" : $"Sec-WebSocket-Extensions: {extensions}\r\n") + "\r\n");
        await http.SendAsync([.. head, .. pipelined ?? []]);
        var response = await http.ReadResponseAsync();
        Assert.Equal(101, response?.StatusCode);
        return new RawWebSocketClient(http, http.TakePending()) { Extensions = response!.Header("Sec-WebSocket-Extensions")?.Trim() };
    }

    /// <summary>Sends <paramref name="bytes"/> in one write (client frames must be masked: see <see cref="ClientFrame"/>).</summary>
    public Task SendAsync(byte[] bytes) => _http.SendAsync(bytes);

    /// <summary>Sends <paramref name="bytes"/> one byte per write, <paramref name="delay"/> apart (Nagle is off), so
    /// the server's reads split them at every byte.</summary>
    public async Task SendBytewiseAsync(byte[] bytes, TimeSpan delay)
    {
        foreach (var b in bytes)
        {
            await _http.SendAsync([b]);
            await Task.Delay(delay);
        }
    }

    /// <summary>Reads server frames until <paramref name="until"/> holds for the events so far, the server closed
    /// (the last event is then "finished" or "eof"), or the server was silent for <paramref name="silence"/> (default
    /// 30 s; the last event is then "timeout").</summary>
    public async Task<List<string>> ReadEventsAsync(Func<List<string>, bool> until, TimeSpan? silence = null)
    {
        var events = new List<string>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var buffer = new ReadOnlySequence<byte>(_unread);
            while (!until(events) && _reader.TryRead(ref buffer, out var ev))
            {
                events.Add(ReaderDriver.Describe(ev));
            }
            _unread = buffer.ToArray();
            if (_reader.IsFinished)
            {
                events.Add("finished");
                return events;
            }
            if (until(events) || DateTime.UtcNow > deadline)
            {
                return events;
            }
            bool more;
            try
            {
                more = await _http.ReadOneChunkAsync(silence);
            }
            catch (OperationCanceledException)
            {
                events.Add("timeout");
                return events;
            }
            catch (System.Net.Sockets.SocketException)
            {
                more = false;
            }
            if (!more)
            {
                events.Add("eof");
                return events;
            }
            _unread = [.. _unread, .. _http.TakePending()];
        }
    }

    /// <summary>Reads one whole server frame as it is on the wire: its first header byte (FIN, RSV, opcode) and its
    /// payload, still compressed when RSV1 is set. For wire-level checks; not to be mixed with
    /// <see cref="ReadEventsAsync"/> on one connection.</summary>
    public async Task<(byte First, byte[] Payload)> ReadFrameAsync()
    {
        FrameHeader header;
        while (!FrameHeader.TryParse(_unread, out header, out _))
        {
            await ReceiveAsync();
        }
        var end = header.HeaderLength + (int)header.PayloadLength;
        while (_unread.Length < end)
        {
            await ReceiveAsync();
        }
        var frame = (_unread[0], _unread[header.HeaderLength..end]);
        _unread = _unread[end..];
        return frame;
    }

    private async Task ReceiveAsync()
    {
        if (!await _http.ReadOneChunkAsync())
        {
            throw new IOException("The server closed the connection.");
        }
        _unread = [.. _unread, .. _http.TakePending()];
    }

    /// <summary>Reads until the server's close frame (or the end of TCP) and returns every event.</summary>
    public Task<List<string>> ReadUntilClosedAsync() => ReadEventsAsync(_ => false);

    /// <summary>True when the server closed TCP with no further bytes (after its close frame, say).</summary>
    public Task<bool> IsClosedByServerAsync() => _http.IsClosedByServerAsync();

    public void Dispose()
    {
        _reader.Dispose();
        _http.Dispose();
    }
}
