using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EmitHub.Tests.Infrastructure;

/// <summary>A parsed HTTP/1.1 response read from a raw socket.</summary>
public sealed record RawResponse(int StatusCode, IReadOnlyList<KeyValuePair<string, string>> Headers, string Body)
{
    public string? Header(string name) =>
        Headers.FirstOrDefault(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;
}

/// <summary>A TCP client that writes exact bytes and reads Content-Length-framed responses, for tests of framing,
/// keep-alive, pipelining and smuggling that HttpClient would normalize away.</summary>
public sealed class RawHttpConnection : IDisposable
{
    private readonly Socket _socket;
    private readonly List<byte> _buffer = new();
    private readonly List<int> _interim = new();

    private RawHttpConnection(Socket socket) => _socket = socket;

    public static async Task<RawHttpConnection> ConnectAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endPoint);
        return new RawHttpConnection(socket);
    }

    public Task SendAsync(string text) => SendAsync(Encoding.Latin1.GetBytes(text));

    public async Task SendAsync(byte[] bytes) => await _socket.SendAsync(bytes, SocketFlags.None);

    /// <summary>Status codes of the interim (1xx, not 101) responses <see cref="ReadResponseAsync"/> passed over.</summary>
    public IReadOnlyList<int> InterimResponses => _interim;

    /// <summary>Reads one final response (interim 1xx ones are recorded in <see cref="InterimResponses"/>); null when
    /// the server closed before a whole one arrived.</summary>
    public async Task<RawResponse?> ReadResponseAsync(CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (true)
        {
            var headEnd = IndexOf(_buffer, "\r\n\r\n"u8.ToArray());
            if (headEnd >= 0)
            {
                var head = Encoding.Latin1.GetString(_buffer.GetRange(0, headEnd).ToArray());
                var lines = head.Split("\r\n");
                var status = int.Parse(lines[0].Split(' ')[1]);
                var headers = lines.Skip(1).Select(l => { var c = l.IndexOf(':'); return new KeyValuePair<string, string>(l[..c], l[(c + 1)..].Trim()); }).ToList();
                var lengthText = headers.FirstOrDefault(h => h.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)).Value;
                var length = lengthText == null ? 0 : int.Parse(lengthText);
                if (status < 200 && status != 101)
                {
                    // Recorded, not silently dropped, so a test can tell whether an interim response came.
                    _interim.Add(status);
                    _buffer.RemoveRange(0, headEnd + 4);
                    continue;
                }
                if (_buffer.Count >= headEnd + 4 + length)
                {
                    var body = Encoding.UTF8.GetString(_buffer.GetRange(headEnd + 4, length).ToArray());
                    _buffer.RemoveRange(0, headEnd + 4 + length);
                    return new RawResponse(status, headers, body);
                }
            }
            if (!await ReceiveAsync(timeout.Token))
            {
                return null;
            }
        }
    }

    /// <summary>True when the server closed the connection (reads EOF or a reset) with no further bytes.</summary>
    public async Task<bool> IsClosedByServerAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            return !await ReceiveAsync(timeout.Token) && _buffer.Count == 0;
        }
        catch (SocketException)
        {
            return _buffer.Count == 0;
        }
    }

    /// <summary>Receives once into the local buffer (see <see cref="Pending"/>); false at end of stream. Throws
    /// <see cref="OperationCanceledException"/> after <paramref name="timeoutAfter"/> (default 30 s) of silence.</summary>
    public async Task<bool> ReadOneChunkAsync(TimeSpan? timeoutAfter = null)
    {
        using var timeout = new CancellationTokenSource(timeoutAfter ?? TimeSpan.FromSeconds(30));
        return await ReceiveAsync(timeout.Token);
    }

    /// <summary>Removes and returns everything still unread in the local buffer (bytes that followed a 101, say).</summary>
    public byte[] TakePending()
    {
        var bytes = _buffer.ToArray();
        _buffer.Clear();
        return bytes;
    }

    /// <summary>Everything still unread in the local buffer, as text.</summary>
    public string Pending => Encoding.Latin1.GetString(_buffer.ToArray());

    private async Task<bool> ReceiveAsync(CancellationToken cancellationToken)
    {
        var chunk = new byte[8192];
        int n;
        try
        {
            n = await _socket.ReceiveAsync(chunk, SocketFlags.None, cancellationToken);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return false;
        }
        if (n == 0)
        {
            return false;
        }
        _buffer.AddRange(chunk.AsSpan(0, n).ToArray());
        return true;
    }

    private static int IndexOf(List<byte> haystack, byte[] needle)
    {
        for (var i = 0; i <= haystack.Count - needle.Length; i++)
        {
            var match = true;
            for (var j = 0; j < needle.Length && match; j++)
            {
                match = haystack[i + j] == needle[j];
            }
            if (match)
            {
                return i;
            }
        }
        return -1;
    }

    public void Dispose() => _socket.Dispose();
}
