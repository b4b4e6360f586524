using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;

namespace EmitHub.Net.Transport;

/// <summary>
/// The TLS path of a connection: <see cref="SslStream"/> over the accepted socket (ALPN <c>http/1.1</c>), with loops
/// that move plaintext between the stream and the same <see cref="Input"/>/<see cref="Output"/> pipes the plain path
/// uses. Only TLS connections take it; the plain path keeps its zero-copy socket sends.
/// </summary>
public sealed partial class ConnectionContext
{
    /// <summary>How long a client may take to complete the TLS handshake: 10 s, the same bound as an HTTP request
    /// head (SPEC §4 408), so a silent TLS client holds a descriptor no longer than a silent plain one.</summary>
    public static readonly TimeSpan TlsHandshakeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Largest plaintext write handed to <see cref="SslStream"/> at once: 64 KiB (four TLS records), so a
    /// gathered send becomes few records instead of one per small segment, without an unbounded copy.</summary>
    private const int TlsWriteChunk = 64 * 1024;

    private readonly TlsCertificateSource? _tls;
    private SslStream? _ssl;

    /// <summary>True when the connection is TLS (after a completed handshake).</summary>
    public bool IsTls => _ssl is not null;

    private async Task<bool> AuthenticateTlsAsync(TlsCertificateSource tls)
    {
        var ssl = new SslStream(new NetworkStream(_socket, ownsSocket: false), leaveInnerStreamOpen: false);
        using var timeout = new CancellationTokenSource(TlsHandshakeTimeout);
        try
        {
            await ssl.AuthenticateAsServerAsync(tls.GetServerOptions(), timeout.Token).ConfigureAwait(false);
            _ssl = ssl;
            return true;
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException
            or ObjectDisposedException or SocketException or InvalidOperationException)
        {
            // A scanner, a plain-HTTP request on the TLS port, or a client that does not trust the certificate:
            // the connection's own business, logged at debug like any other failed connection.
            TrySetCloseReason(timeout.IsCancellationRequested ? ConnectionCloseReason.TlsHandshakeTimeout : ConnectionCloseReason.TlsHandshakeFailed);
            TransportLog.TlsHandshakeFailed(_logger, Id, RemoteEndPoint, e.Message);
            await ssl.DisposeAsync().ConfigureAwait(false);
            return false;
        }
    }

    private void CloseAfterFailedHandshake()
    {
        _socket.Dispose();
        _input!.Writer.Complete();
        _input.Reader.Complete();
        _output!.Writer.Complete();
        _output.Reader.Complete();
        TransportLog.ConnectionClosed(_logger, Id, RemoteEndPoint, CloseReason);
        _receiver.Close();
    }

    private async Task TlsReceiveLoopAsync(SslStream ssl)
    {
        var writer = _input!.Writer;
        try
        {
            while (true)
            {
                // Zero-byte read: SslStream waits for a record without holding a buffer (as the plain path does).
                await ssl.ReadAsync(Memory<byte>.Empty).ConfigureAwait(false);
                var scratch = ArrayPool<byte>.Shared.Rent(ReceiveChunk);
                try
                {
                    var read = await ssl.ReadAsync(scratch).ConfigureAwait(false);
                    if (read == 0)
                    {
                        TrySetCloseReason(ConnectionCloseReason.RemoteClosed);
                        return;
                    }
                    writer.Write(scratch.AsSpan(0, read));
                    _bytesReceived += read;
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(scratch);
                }
                var flush = await writer.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or SocketException)
        {
            // Reset, truncated record or disposed by Abort: the connection is ending anyway.
            TrySetCloseReason(ConnectionCloseReason.RemoteClosed);
        }
        finally
        {
            await writer.CompleteAsync().ConfigureAwait(false);
        }
    }

    private async Task TlsSendLoopAsync(SslStream ssl)
    {
        var reader = _output!.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                if (!buffer.IsEmpty && !await TlsWriteAsync(ssl, buffer).ConfigureAwait(false))
                {
                    return;
                }
                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    // No close_notify here: after a WebSocket upgrade the output pipe completes while the
                    // connection goes on (RunAsync sends it at the real end).
                    return;
                }
            }
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The TLS form of <see cref="SendAsync"/>: the segments are copied into chunks of up to
    /// <see cref="TlsWriteChunk"/> bytes (they are encrypted into new buffers anyway) and written.</summary>
    private async ValueTask<SocketError> TlsSendAsync(SslStream ssl, IList<ArraySegment<byte>> list)
    {
        // Copied before the first await: the caller's list is free once this call returns (SendAsync's contract).
        var count = list.Count;
        var buffers = ArrayPool<ArraySegment<byte>>.Shared.Rent(Math.Max(1, count));
        list.CopyTo(buffers, 0);
        long total = 0;
        for (var i = 0; i < count; i++)
        {
            total += buffers[i].Count;
        }
        var chunk = ArrayPool<byte>.Shared.Rent((int)Math.Min(total, TlsWriteChunk));
        try
        {
            var filled = 0;
            for (var i = 0; i < count; i++)
            {
                var segment = buffers[i];
                var rest = segment.AsMemory();
                while (!rest.IsEmpty)
                {
                    var n = Math.Min(rest.Length, chunk.Length - filled);
                    rest[..n].CopyTo(chunk.AsMemory(filled));
                    filled += n;
                    rest = rest[n..];
                    if (filled == chunk.Length)
                    {
                        await ssl.WriteAsync(chunk.AsMemory(0, filled)).ConfigureAwait(false);
                        filled = 0;
                    }
                }
            }
            if (filled > 0)
            {
                await ssl.WriteAsync(chunk.AsMemory(0, filled)).ConfigureAwait(false);
            }
            _bytesSent += total;
            return SocketError.Success;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or SocketException)
        {
            var error = (e.InnerException as SocketException)?.SocketErrorCode ?? SocketError.ConnectionReset;
            RecordSocketError(error);
            return error;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
            Array.Clear(buffers, 0, count);
            ArrayPool<ArraySegment<byte>>.Shared.Return(buffers);
        }
    }

    private async ValueTask<bool> TlsWriteAsync(SslStream ssl, ReadOnlySequence<byte> buffer)
    {
        try
        {
            if (buffer.IsSingleSegment)
            {
                await ssl.WriteAsync(buffer.First).ConfigureAwait(false);
            }
            else
            {
                var chunk = ArrayPool<byte>.Shared.Rent((int)Math.Min(buffer.Length, TlsWriteChunk));
                try
                {
                    while (!buffer.IsEmpty)
                    {
                        var n = (int)Math.Min(buffer.Length, chunk.Length);
                        buffer.Slice(0, n).CopyTo(chunk);
                        await ssl.WriteAsync(chunk.AsMemory(0, n)).ConfigureAwait(false);
                        _bytesSent += n;
                        buffer = buffer.Slice(n);
                    }
                    return true;
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(chunk);
                }
            }
            _bytesSent += buffer.Length;
            return true;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or SocketException)
        {
            RecordSocketError((e.InnerException as SocketException)?.SocketErrorCode ?? SocketError.ConnectionReset);
            return false;
        }
    }

    /// <summary>Sends close_notify when the connection ends normally; nothing after a failure or an abort.</summary>
    private static async ValueTask TlsCloseNotifyAsync(SslStream ssl)
    {
        try
        {
            // close_notify (RFC 8446 §6.1) before the TCP FIN, so the client sees a clean end of the TLS stream.
            // Bounded: a peer that stopped reading must not hold the connection open for its alert.
            await ssl.ShutdownAsync().WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or SocketException or TimeoutException)
        {
        }
    }
}
