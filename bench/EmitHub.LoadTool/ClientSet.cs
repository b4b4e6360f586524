using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace EmitHub.LoadTool;

/// <summary>What a slice of clients connects to and how.</summary>
internal sealed record ClientOptions(
    byte[] ServerIp, int Port, string Host, string Path, int Count, int FirstIndex, int SourceIps,
    int Threads, int ConnectConcurrency);

/// <summary>
/// A slice of WebSocket clients driven by a few epoll threads (level-triggered, one recv of up to
/// 256 KiB per readiness). Clients only read: RFC 6455 §5.1 requires masking on client frames, and the
/// only frames we ever send (pong, close) use the all-zero masking key, which leaves payloads as-is.
/// </summary>
internal sealed class ClientSet : IDisposable
{
    private readonly ClientOptions _options;
    private readonly Loop[] _loops;
    private readonly Thread[] _threads;

    public ClientSet(ClientOptions options)
    {
        _options = options;
        var threads = Math.Max(1, Math.Min(options.Threads, Math.Max(1, options.Count)));
        _loops = new Loop[threads];
        _threads = new Thread[threads];
        var per = options.Count / threads;
        var rem = options.Count % threads;
        var first = options.FirstIndex;
        for (var t = 0; t < threads; t++)
        {
            var n = per + (t < rem ? 1 : 0);
            _loops[t] = new Loop(options, first, n, Math.Max(1, options.ConnectConcurrency / threads));
            first += n;
        }
        for (var t = 0; t < threads; t++)
        {
            var loop = _loops[t];
            _threads[t] = new Thread(loop.Run) { IsBackground = true, Name = $"epoll-{t}" };
        }
    }

    public int Count => _options.Count;

    public void Start()
    {
        foreach (var t in _threads)
        {
            t.Start();
        }
    }

    /// <summary>Clients that got the `connected` envelope.</summary>
    public int Connected => _loops.Sum(l => Volatile.Read(ref l.ConnectedEnvelopes));

    /// <summary>Clients that failed to connect, upgrade, or were closed by the server.</summary>
    public int Failed => _loops.Sum(l => Volatile.Read(ref l.Failed));

    public int Closed => _loops.Sum(l => Volatile.Read(ref l.ClosedByServer));

    public long Delivered => _loops.Sum(l => Volatile.Read(ref l.Delivered));

    public long LastDeliveryUs => _loops.Max(l => Volatile.Read(ref l.LastDeliveryUs));

    /// <summary>True once every client has connected (got `connected`) or failed.</summary>
    public bool Settled => _loops.All(l => Volatile.Read(ref l.ConnectedEnvelopes) + Volatile.Read(ref l.Failed) >= l.Count);

    /// <summary>Sends a close frame to every open client, waits up to <paramref name="waitMs"/>
    /// for the server's close, then closes every socket and stops the threads.</summary>
    public void Shutdown(int waitMs)
    {
        foreach (var l in _loops)
        {
            l.CloseDeadlineUs = Clock.NowUs() + waitMs * 1000L;
            Volatile.Write(ref l.Closing, 1);
        }
        foreach (var t in _threads)
        {
            t.Join();
        }
    }

    public SliceResult Result()
    {
        var h = new Histogram();
        var r = new SliceResult { Histogram = h };
        foreach (var l in _loops)
        {
            h.Add(l.Latency);
            r.Delivered += l.Delivered;
            r.Reads += l.Reads;
            r.OrderViolations += l.OrderViolations;
            r.Gaps += l.Gaps;
            r.Connected += l.ConnectedEnvelopes;
            r.Failed += l.Failed;
            r.ClosedByServer += l.ClosedByServer;
            r.Unexpected += l.Unexpected;
            r.LastDeliveryUs = Math.Max(r.LastDeliveryUs, l.LastDeliveryUs);
        }
        return r;
    }

    public void Dispose()
    {
        foreach (var l in _loops)
        {
            l.Dispose();
        }
    }

    private enum State : byte { Idle, Connecting, Handshaking, Open, Done }

    private sealed class Conn
    {
        public int Fd = -1;
        public State State;
        public byte[]? Carry;
        public int CarryLen;
        public long LastSeq;
        public bool GotConnected;
    }

    /// <summary>One epoll thread and the clients it owns. Counters are written only by the thread.</summary>
    private sealed unsafe class Loop : IDisposable
    {
        private const int RecvSize = 256 * 1024;
        private readonly ClientOptions _o;
        private readonly int _first;
        private readonly int _maxPending;
        private readonly Conn[] _conns;
        private readonly byte[] _request;
        private readonly byte* _buf;
        private readonly int _bufCap;
        private int _epfd = -1;
        private int _next;
        private int _pending;

        public readonly int Count;
        public readonly Histogram Latency = new();
        public int ConnectedEnvelopes;
        public int Failed;
        public int ClosedByServer;
        public long Delivered;
        public long Reads;
        public long OrderViolations;
        public long Gaps;
        public long Unexpected;
        public long LastDeliveryUs;
        public int Closing;
        public long CloseDeadlineUs;

        public Loop(ClientOptions o, int first, int count, int maxPending)
        {
            _o = o;
            _first = first;
            Count = count;
            _maxPending = maxPending;
            _conns = new Conn[count];
            for (var i = 0; i < count; i++)
            {
                _conns[i] = new Conn();
            }
            // A fixed Sec-WebSocket-Key is fine: servers only echo its hash (RFC 6455 §4.2.2).
            _request = Encoding.ASCII.GetBytes(
                $"GET {o.Path} HTTP/1.1\r\nHost: {o.Host}:{o.Port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
            _bufCap = RecvSize + 64 * 1024;
            _buf = (byte*)NativeMemory.Alloc((nuint)_bufCap);
        }

        public void Run()
        {
            _epfd = Native.epoll_create1(0x80000);
            if (_epfd < 0)
            {
                throw new InvalidOperationException($"epoll_create1 failed: errno {Marshal.GetLastPInvokeError()}");
            }
            const int MaxEvents = 1024;
            var events = stackalloc EpollEvent[MaxEvents];
            var closingStarted = false;
            while (true)
            {
                if (Volatile.Read(ref Closing) != 0)
                {
                    if (!closingStarted)
                    {
                        closingStarted = true;
                        SendCloseToAll();
                    }
                    if (Clock.NowUs() > CloseDeadlineUs || OpenCount() == 0)
                    {
                        break;
                    }
                }
                else
                {
                    StartConnects();
                }
                var n = Native.epoll_wait(_epfd, events, MaxEvents, 20);
                if (n <= 0)
                {
                    continue;
                }
                var nowUs = Clock.NowUs();
                for (var i = 0; i < n; i++)
                {
                    var idx = (int)events[i].Data;
                    OnEvent(_conns[idx], idx, events[i].Events, nowUs);
                }
            }
            foreach (var c in _conns)
            {
                if (c.Fd >= 0)
                {
                    Native.close(c.Fd);
                    c.Fd = -1;
                }
            }
            Native.close(_epfd);
            _epfd = -1;
        }

        private int OpenCount()
        {
            var n = 0;
            foreach (var c in _conns)
            {
                if (c.Fd >= 0)
                {
                    n++;
                }
            }
            return n;
        }

        private void StartConnects()
        {
            Span<byte> addr = stackalloc byte[16];
            Span<byte> src = stackalloc byte[4];
            while (_pending < _maxPending && _next < Count)
            {
                var idx = _next++;
                var c = _conns[idx];
                var fd = Native.socket(Native.AF_INET, Native.SOCK_STREAM | Native.SOCK_NONBLOCK | Native.SOCK_CLOEXEC, 0);
                if (fd < 0)
                {
                    Fail(c);
                    continue;
                }
                var one = 1;
                Native.setsockopt(fd, Native.IPPROTO_IP, Native.IP_BIND_ADDRESS_NO_PORT, &one, 4);
                var global = _first + idx;
                src[0] = 127;
                src[1] = 0;
                src[2] = 0;
                src[3] = (byte)(1 + global % Math.Clamp(_o.SourceIps, 1, 254));
                Native.WriteSockaddr(addr, src, 0);
                int rc;
                fixed (byte* a = addr)
                {
                    rc = Native.bind(fd, a, 16);
                }
                if (rc != 0)
                {
                    Native.close(fd);
                    Fail(c);
                    continue;
                }
                Native.WriteSockaddr(addr, _o.ServerIp, _o.Port);
                fixed (byte* a = addr)
                {
                    rc = Native.connect(fd, a, 16);
                }
                if (rc != 0 && Marshal.GetLastPInvokeError() != Native.EINPROGRESS)
                {
                    Native.close(fd);
                    Fail(c);
                    continue;
                }
                c.Fd = fd;
                c.State = State.Connecting;
                var ev = new EpollEvent { Events = Native.EPOLLOUT | Native.EPOLLIN | Native.EPOLLRDHUP, Data = (ulong)idx };
                Native.epoll_ctl(_epfd, Native.EPOLL_CTL_ADD, fd, &ev);
                _pending++;
            }
        }

        private void Fail(Conn c)
        {
            if (c.State == State.Done)
            {
                return;
            }
            if (c.State is State.Connecting or State.Handshaking)
            {
                _pending--;
            }
            if (c.Fd >= 0)
            {
                Native.close(c.Fd);
                c.Fd = -1;
            }
            c.State = State.Done;
            Failed++;
        }

        private void OnEvent(Conn c, int idx, uint ev, long nowUs)
        {
            switch (c.State)
            {
                case State.Connecting:
                    {
                        var err = 0;
                        var len = 4;
                        Native.getsockopt(c.Fd, Native.SOL_SOCKET, Native.SO_ERROR, &err, &len);
                        if (err != 0 || (ev & (Native.EPOLLERR | Native.EPOLLHUP)) != 0)
                        {
                            Fail(c);
                            return;
                        }
                        if (!SendAll(c.Fd, _request))
                        {
                            Fail(c);
                            return;
                        }
                        c.State = State.Handshaking;
                        var e = new EpollEvent { Events = Native.EPOLLIN | Native.EPOLLRDHUP, Data = (ulong)idx };
                        Native.epoll_ctl(_epfd, Native.EPOLL_CTL_MOD, c.Fd, &e);
                        return;
                    }
                case State.Handshaking:
                case State.Open:
                    Read(c, nowUs);
                    return;
                default:
                    return;
            }
        }

        private static bool SendAll(int fd, ReadOnlySpan<byte> data)
        {
            fixed (byte* p = data)
            {
                var off = 0;
                while (off < data.Length)
                {
                    var n = Native.send(fd, p + off, data.Length - off, Native.MSG_NOSIGNAL);
                    if (n < 0)
                    {
                        var e = Marshal.GetLastPInvokeError();
                        if (e == Native.EINTR)
                        {
                            continue;
                        }
                        // Tiny control frames on a fresh socket never hit a full send buffer in practice.
                        return false;
                    }
                    off += (int)n;
                }
            }
            return true;
        }

        private void Read(Conn c, long nowUs)
        {
            // Leftover bytes of a partial frame go in front of the fresh data.
            var start = c.CarryLen;
            if (start > 0)
            {
                c.Carry.AsSpan(0, start).CopyTo(new Span<byte>(_buf, start));
                c.CarryLen = 0;
            }
            var n = Native.recv(c.Fd, _buf + start, Math.Min(RecvSize, _bufCap - start), 0);
            if (n <= 0)
            {
                if (n < 0)
                {
                    var e = Marshal.GetLastPInvokeError();
                    if (e == Native.EAGAIN || e == Native.EINTR)
                    {
                        c.CarryLen = start; // carry is still in c.Carry untouched
                        return;
                    }
                }
                // EOF or reset.
                // A client that never got `connected` failed; one that did was closed by the server.
                if (c.State == State.Open && c.GotConnected)
                {
                    if (Volatile.Read(ref Closing) == 0)
                    {
                        ClosedByServer++;
                    }
                    _ = Native.close(c.Fd);
                    c.Fd = -1;
                    c.State = State.Done;
                }
                else
                {
                    Fail(c);
                }
                return;
            }
            Reads++;
            var data = new Span<byte>(_buf, start + (int)n);
            var pos = 0;
            if (c.State == State.Handshaking)
            {
                var end = data.IndexOf("\r\n\r\n"u8);
                if (end < 0)
                {
                    Keep(c, data);
                    return;
                }
                if (!data.StartsWith("HTTP/1.1 101"u8))
                {
                    Fail(c);
                    return;
                }
                c.State = State.Open;
                _pending--;
                pos = end + 4;
            }
            while (true)
            {
                var rest = data[pos..];
                if (rest.Length < 2)
                {
                    break;
                }
                var b0 = rest[0];
                var b1 = rest[1];
                var hdr = 2;
                long plen = b1 & 0x7F;
                if (plen == 126)
                {
                    if (rest.Length < 4)
                    {
                        break;
                    }
                    plen = BinaryPrimitives.ReadUInt16BigEndian(rest[2..]);
                    hdr = 4;
                }
                else if (plen == 127)
                {
                    if (rest.Length < 10)
                    {
                        break;
                    }
                    plen = (long)BinaryPrimitives.ReadUInt64BigEndian(rest[2..]);
                    hdr = 10;
                }
                if ((b1 & 0x80) != 0)
                {
                    hdr += 4; // servers must not mask (§5.1); tolerate it in the length arithmetic only
                }
                if (hdr + plen > _bufCap / 2)
                {
                    Fail(c); // far larger than any envelope this bench sends
                    return;
                }
                if (rest.Length < hdr + plen)
                {
                    break;
                }
                var payload = rest.Slice(hdr, (int)plen);
                var opcode = b0 & 0x0F;
                if (opcode == 1 && (b0 & 0x80) != 0)
                {
                    OnText(c, payload, nowUs);
                }
                else if (opcode == 9)
                {
                    SendControl(c.Fd, 0x8A, payload);
                }
                else if (opcode == 8)
                {
                    // Server close: echo it, as the closing handshake asks (RFC 6455 §5.5.1).
                    if (Volatile.Read(ref Closing) == 0)
                    {
                        SendControl(c.Fd, 0x88, payload.Length >= 2 ? payload[..2] : default);
                    }
                }
                else if (opcode != 10)
                {
                    Unexpected++;
                }
                pos += hdr + (int)plen;
            }
            Keep(c, data[pos..]);
        }

        private static void Keep(Conn c, ReadOnlySpan<byte> rest)
        {
            if (rest.IsEmpty)
            {
                return;
            }
            if (c.Carry is null || c.Carry.Length < rest.Length)
            {
                c.Carry = new byte[Math.Max(512, rest.Length)];
            }
            rest.CopyTo(c.Carry);
            c.CarryLen = rest.Length;
        }

        private static void SendControl(int fd, byte first, ReadOnlySpan<byte> payload)
        {
            Span<byte> f = stackalloc byte[6 + 125];
            var len = Math.Min(payload.Length, 125);
            f[0] = first;
            f[1] = (byte)(0x80 | len);
            f[2] = f[3] = f[4] = f[5] = 0; // zero masking key
            payload[..len].CopyTo(f[6..]);
            SendAll(fd, f[..(6 + len)]);
        }

        private void SendCloseToAll()
        {
            ReadOnlySpan<byte> code = [0x03, 0xE8]; // 1000 normal closure
            foreach (var c in _conns)
            {
                if (c.Fd >= 0 && c.State == State.Open)
                {
                    SendControl(c.Fd, 0x88, code);
                }
                else if (c.Fd >= 0)
                {
                    Native.close(c.Fd);
                    c.Fd = -1;
                }
            }
        }

        private void OnText(Conn c, ReadOnlySpan<byte> json, long nowUs)
        {
            // Envelope: {"status":"...","message":"...",...,"sequence":n}; field order is not assumed,
            // and whitespace around the colon is tolerated.
            // Compact JSON with status first (both servers) skips the search.
            var st = json.StartsWith("{\"status\":"u8) ? json[10..] : ValueAfter(json, "\"status\""u8, last: false);
            if (st.IsEmpty || st[0] != (byte)'"')
            {
                Unexpected++;
                return;
            }
            st = st[1..];
            if (st.StartsWith("broadcast\""u8))
            {
                var seq = ParseLong(ValueAfter(json, "\"sequence\""u8, last: true));
                var m = json.IndexOf("\"message\":\"T"u8);
                if (m >= 0)
                {
                    Latency.Record(nowUs - ParseLong(json[(m + 12)..]));
                }
                else if (ValueAfter(json, "\"message\""u8, last: false) is { Length: > 2 } mv && mv[0] == (byte)'"' && mv[1] == (byte)'T')
                {
                    Latency.Record(nowUs - ParseLong(mv[2..]));
                }
                if (seq <= c.LastSeq)
                {
                    OrderViolations++;
                }
                else
                {
                    if (c.LastSeq > 0 && seq != c.LastSeq + 1)
                    {
                        Gaps += seq - c.LastSeq - 1;
                    }
                    c.LastSeq = seq;
                }
                Delivered++;
                LastDeliveryUs = nowUs;
            }
            else if (st.StartsWith("connected\""u8))
            {
                if (!c.GotConnected)
                {
                    c.GotConnected = true;
                    ConnectedEnvelopes++;
                }
            }
            else
            {
                Unexpected++;
            }
        }

        /// <summary>The bytes from a member's value onwards (key given with its quotes); empty when absent.
        /// The envelope's own members come before or after nested `data`, so the last match for
        /// "sequence" and the first for the others are the top-level ones in both servers' layouts.</summary>
        private static ReadOnlySpan<byte> ValueAfter(ReadOnlySpan<byte> json, ReadOnlySpan<byte> key, bool last)
        {
            var i = last ? json.LastIndexOf(key) : json.IndexOf(key);
            if (i < 0)
            {
                return default;
            }
            var rest = json[(i + key.Length)..];
            var k = 0;
            while (k < rest.Length && rest[k] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
            {
                k++;
            }
            if (k >= rest.Length || rest[k] != (byte)':')
            {
                return default;
            }
            k++;
            while (k < rest.Length && rest[k] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
            {
                k++;
            }
            return rest[k..];
        }

        private static long ParseLong(ReadOnlySpan<byte> s)
        {
            long v = 0;
            var i = 0;
            while (i < s.Length && s[i] == (byte)' ')
            {
                i++;
            }
            for (; i < s.Length; i++)
            {
                var d = s[i] - (byte)'0';
                if ((uint)d > 9)
                {
                    break;
                }
                v = v * 10 + d;
            }
            return v;
        }

        public void Dispose() => NativeMemory.Free(_buf);
    }
}

/// <summary>Totals of one slice (thread, process) of clients.</summary>
internal sealed class SliceResult
{
    public long Delivered;
    public long Reads;
    public long OrderViolations;
    public long Gaps;
    public long Connected;
    public long Failed;
    public long ClosedByServer;
    public long Unexpected;
    public long LastDeliveryUs;
    public required Histogram Histogram;

    public string Encode() =>
        $"{Delivered} {OrderViolations} {Gaps} {Connected} {Failed} {ClosedByServer} {Unexpected} {LastDeliveryUs} {Reads} {Histogram.Encode()}";

    public static SliceResult Decode(string s)
    {
        var p = s.Split(' ');
        return new SliceResult
        {
            Delivered = long.Parse(p[0]),
            OrderViolations = long.Parse(p[1]),
            Gaps = long.Parse(p[2]),
            Connected = long.Parse(p[3]),
            Failed = long.Parse(p[4]),
            ClosedByServer = long.Parse(p[5]),
            Unexpected = long.Parse(p[6]),
            LastDeliveryUs = long.Parse(p[7]),
            Reads = long.Parse(p[8]),
            Histogram = Histogram.Decode(p[9]),
        };
    }

    public void Add(SliceResult o)
    {
        Delivered += o.Delivered;
        Reads += o.Reads;
        OrderViolations += o.OrderViolations;
        Gaps += o.Gaps;
        Connected += o.Connected;
        Failed += o.Failed;
        ClosedByServer += o.ClosedByServer;
        Unexpected += o.Unexpected;
        LastDeliveryUs = Math.Max(LastDeliveryUs, o.LastDeliveryUs);
        Histogram.Add(o.Histogram);
    }
}

/// <summary>CLOCK_MONOTONIC in microseconds; shared by every process on the box, so a worker can
/// compare a timestamp written by the publisher in another process.</summary>
internal static class Clock
{
    private static readonly long s_ticksPerUs = Math.Max(1, Stopwatch.Frequency / 1_000_000);

    public static long NowUs() => Stopwatch.GetTimestamp() / s_ticksPerUs;
}
