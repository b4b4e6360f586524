using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace EmitHub.LoadTool;

/// <summary>Minimal blocking HTTP/1.1 keep-alive client (RFC 9112) for the REST side: one request at
/// a time per connection; bodies framed by Content-Length or the chunked transfer coding.</summary>
internal sealed class HttpConn : IDisposable
{
    private readonly string _host;
    private readonly int _port;
    private readonly IPAddress _ip;
    private Socket? _socket;
    private byte[] _buf = new byte[64 * 1024];
    private int _len;

    public HttpConn(IPAddress ip, string host, int port)
    {
        _ip = ip;
        _host = host;
        _port = port;
    }

    private Socket Connect()
    {
        if (_socket is { } s)
        {
            return s;
        }
        s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        s.Connect(new IPEndPoint(_ip, _port));
        _socket = s;
        _len = 0;
        return s;
    }

    /// <summary>Sends one request; returns the status code and the body (UTF-8).</summary>
    public (int Status, string Body) Send(string method, string path, string? json)
    {
        var body = json is null ? [] : Encoding.UTF8.GetBytes(json);
        var head = $"{method} {path} HTTP/1.1\r\nHost: {_host}:{_port}\r\n" +
            (json is null ? "Content-Length: 0\r\n\r\n" : $"Content-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n");
        var req = new byte[Encoding.ASCII.GetByteCount(head) + body.Length];
        var n = Encoding.ASCII.GetBytes(head, req);
        body.CopyTo(req, n);
        try
        {
            return Exchange(req);
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            // One retry on a fresh connection: the server may have closed an idle keep-alive.
            Reset();
            return Exchange(req);
        }
    }

    private (int, string) Exchange(byte[] req)
    {
        var s = Connect();
        s.Send(req);
        int headEnd;
        while ((headEnd = _buf.AsSpan(0, _len).IndexOf("\r\n\r\n"u8)) < 0)
        {
            Fill(s);
        }
        var head = Encoding.ASCII.GetString(_buf, 0, headEnd);
        var status = int.Parse(head.AsSpan(9, 3));
        var pos = headEnd + 4;
        long contentLength = -1;
        var chunked = false;
        var close = false;
        foreach (var line in head.Split("\r\n").Skip(1))
        {
            var c = line.IndexOf(':');
            if (c < 0)
            {
                continue;
            }
            var name = line[..c].Trim();
            var value = line[(c + 1)..].Trim();
            if (name.Equals("content-length", StringComparison.OrdinalIgnoreCase))
            {
                contentLength = long.Parse(value);
            }
            else if (name.Equals("transfer-encoding", StringComparison.OrdinalIgnoreCase) && value.Contains("chunked", StringComparison.OrdinalIgnoreCase))
            {
                chunked = true;
            }
            else if (name.Equals("connection", StringComparison.OrdinalIgnoreCase) && value.Contains("close", StringComparison.OrdinalIgnoreCase))
            {
                close = true;
            }
        }
        var body = new MemoryStream();
        if (chunked)
        {
            while (true)
            {
                int lineEnd;
                while ((lineEnd = _buf.AsSpan(pos, _len - pos).IndexOf("\r\n"u8)) < 0)
                {
                    Fill(s);
                }
                var sizeText = Encoding.ASCII.GetString(_buf, pos, lineEnd).Split(';')[0].Trim();
                var size = Convert.ToInt32(sizeText, 16);
                pos += lineEnd + 2;
                while (_len - pos < size + 2)
                {
                    Fill(s);
                }
                body.Write(_buf, pos, size);
                pos += size + 2;
                if (size == 0)
                {
                    break; // no trailers from the servers under test
                }
            }
        }
        else if (contentLength > 0)
        {
            while (_len - pos < contentLength)
            {
                Fill(s);
            }
            body.Write(_buf, pos, (int)contentLength);
            pos += (int)contentLength;
        }
        // Keep any pipelined surplus (none expected) at the front of the buffer.
        Buffer.BlockCopy(_buf, pos, _buf, 0, _len - pos);
        _len -= pos;
        if (close)
        {
            Reset();
        }
        return (status, Encoding.UTF8.GetString(body.GetBuffer(), 0, (int)body.Length));
    }

    private void Fill(Socket s)
    {
        if (_len == _buf.Length)
        {
            Array.Resize(ref _buf, _buf.Length * 2);
        }
        var n = s.Receive(_buf, _len, _buf.Length - _len, SocketFlags.None);
        if (n <= 0)
        {
            throw new IOException("connection closed by server");
        }
        _len += n;
    }

    private void Reset()
    {
        _socket?.Dispose();
        _socket = null;
        _len = 0;
    }

    public void Dispose() => Reset();

    /// <summary>The string value of a top-level member of a JSON object; null when absent or not a string.</summary>
    public static string? JsonString(string json, string name) =>
        TopLevel(json, name, out var r) && r.TokenType == JsonTokenType.String ? r.GetString() : null;

    /// <summary>The integer value of a top-level member of a JSON object; -1 when absent or not an integer.</summary>
    public static long JsonLong(string json, string name) =>
        TopLevel(json, name, out var r) && r.TokenType == JsonTokenType.Number && r.TryGetInt64(out var v) ? v : -1;

    private static bool TopLevel(string json, string name, out Utf8JsonReader reader)
    {
        reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals(name))
                {
                    return reader.Read();
                }
            }
        }
        catch (JsonException)
        {
        }
        return false;
    }
}
