using System.Net.Sockets;

namespace EmitHub.Net.Transport;

/// <summary>Outcome of one socket receive, send or readiness wait: bytes moved and the socket error, as a value (never
/// thrown: a peer reset is routine, not exceptional).</summary>
/// <param name="BytesTransferred">Bytes received or sent (0 for a readiness wait).</param>
/// <param name="Error"><see cref="SocketError.Success"/> or the failure.</param>
internal readonly record struct SocketOperationResult(int BytesTransferred, SocketError Error)
{
    /// <summary>What <see cref="EpollSocket.WaitReadableAsync"/> returns when <see cref="EpollSocket.InterruptWait"/>
    /// ended it: not a socket error (EINTR is retried inside, never returned).</summary>
    public static SocketOperationResult Interrupted => new(0, SocketError.Interrupted);

    public bool Succeeded => Error == SocketError.Success;

    /// <summary>True when the wait was ended by <see cref="EpollSocket.InterruptWait"/>, not by the socket.</summary>
    public bool IsInterrupted => Error == SocketError.Interrupted;
}
