using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace EmitHub.Net.Transport;

/// <summary>
/// A TCP listening socket and its accept loop. Running out of file descriptors (EMFILE/ENFILE, surfaced as
/// <see cref="SocketError.TooManyOpenSockets"/>) never stops it: the error is logged at most once a second and the
/// loop backs off briefly, while existing connections keep working (SPEC §6).
/// </summary>
public sealed class SocketListener : IDisposable
{
    /// <summary>Pause after an accept failed for lack of resources: 50 ms, short enough to recover quickly and long
    /// enough not to spin a core while descriptors stay exhausted.</summary>
    public static readonly TimeSpan ExhaustedBackoff = TimeSpan.FromMilliseconds(50);

    /// <summary>Listen backlog: 512 pending connections.</summary>
    public const int Backlog = 512;

    private readonly ILogger _logger;
    private readonly Socket _socket;
    private long _lastExhaustedLog = -1000; // so that the first failure is logged at once (TickCount64 starts at boot)
    private int _suppressed;

    /// <summary>Creates and binds the listening socket (port 0 picks a free port; see <see cref="LocalEndPoint"/>).</summary>
    /// <exception cref="SocketException">The address cannot be bound (in use, not local).</exception>
    public SocketListener(IPEndPoint endPoint, ILogger logger)
    {
        _logger = logger;
        _socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (endPoint.Address.Equals(IPAddress.IPv6Any))
        {
            _socket.DualMode = true;
        }
        // No ReuseAddress: on Linux .NET maps it to SO_REUSEPORT as well, which let a second emit-hub bind the same
        // port and silently split the connections. .NET already sets SO_REUSEADDR on Unix listeners, so a restart
        // is not blocked by TIME_WAIT.
        _socket.Bind(endPoint);
        _socket.Listen(Backlog);
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        TransportLog.Listening(_logger, LocalEndPoint);
    }

    /// <summary>The bound address, with the real port when port 0 was asked for.</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Accepts connections until <paramref name="cancellationToken"/> is cancelled or the listener is
    /// disposed, handing each accepted socket (Nagle disabled) to <paramref name="onAccepted"/>.</summary>
    public async Task AcceptLoopAsync(Action<Socket> onAccepted, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket accepted;
            try
            {
                accepted = await _socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
            {
                LogExhausted(e.SocketErrorCode);
                try
                {
                    await Task.Delay(ExhaustedBackoff, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            catch (SocketException e)
            {
                // ECONNABORTED and friends: the peer gave up before we accepted; nothing to do.
                TransportLog.AcceptFailed(_logger, e.SocketErrorCode);
                continue;
            }
            try
            {
                accepted.NoDelay = true;
                onAccepted(accepted);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // One connection that cannot be set up must not stop the listener.
                TransportLog.ConnectionSetupFailed(_logger, e);
                accepted.Dispose();
            }
        }
    }

    private void LogExhausted(SocketError error)
    {
        var now = Environment.TickCount64;
        if (now - Interlocked.Read(ref _lastExhaustedLog) >= 1000)
        {
            Interlocked.Exchange(ref _lastExhaustedLog, now);
            TransportLog.AcceptExhausted(_logger, error, Interlocked.Exchange(ref _suppressed, 0));
        }
        else
        {
            Interlocked.Increment(ref _suppressed);
        }
    }

    /// <summary>Stops listening; the accept loop ends.</summary>
    public void Dispose() => _socket.Dispose();
}
