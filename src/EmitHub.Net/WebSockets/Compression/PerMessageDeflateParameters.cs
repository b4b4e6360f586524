using System.Text;

namespace EmitHub.Net.WebSockets.Compression;

/// <summary>
/// The agreed parameters of a <c>permessage-deflate</c> extension (RFC 7692 §7.1), as the server's response states
/// them. Window bits are 8-15 (the LZ77 window is 2^bits bytes); 15 is the default when a parameter is absent.
/// </summary>
/// <param name="ServerNoContextTakeover">The server compresses each message on its own (§7.1.1.1). Always true in
/// <see cref="WebSocketCompressionMode.Shared"/> mode: that is what lets one compressed frame serve every client.</param>
/// <param name="ClientNoContextTakeover">The client compresses each message on its own (§7.1.1.2); the server then
/// inflates each message with a fresh context.</param>
/// <param name="ServerMaxWindowBits">Largest LZ77 window the server may use (§7.1.2.1); the client's inflater may
/// hold no more. The server keeps to it by compressing only messages no longer than the window.</param>
/// <param name="ClientMaxWindowBits">The client's window, when the response states one (§7.1.2.2); null = unstated (15).</param>
/// <param name="IncludeServerMaxWindowBits">Whether the response names <c>server_max_window_bits</c> (only when offered).</param>
public sealed record PerMessageDeflateParameters(
    bool ServerNoContextTakeover,
    bool ClientNoContextTakeover,
    int ServerMaxWindowBits = PerMessageDeflateParameters.MaxWindowBits,
    int? ClientMaxWindowBits = null,
    bool IncludeServerMaxWindowBits = false)
{
    /// <summary>The extension's registered name (RFC 7692 §7).</summary>
    public const string ExtensionName = "permessage-deflate";

    /// <summary>Smallest window bits value allowed in a parameter (RFC 7692 §7.1.2.1).</summary>
    public const int MinWindowBits = 8;

    /// <summary>Largest window bits value, and the default (RFC 7692 §7.1.2.1).</summary>
    public const int MaxWindowBits = 15;

    /// <summary>The <c>Sec-WebSocket-Extensions</c> value of the server's 101 response, e.g.
    /// <c>permessage-deflate; server_no_context_takeover; client_no_context_takeover</c>.</summary>
    public string ToResponseHeader()
    {
        var sb = new StringBuilder(ExtensionName);
        if (ServerNoContextTakeover)
        {
            sb.Append("; server_no_context_takeover");
        }
        if (ClientNoContextTakeover)
        {
            sb.Append("; client_no_context_takeover");
        }
        if (IncludeServerMaxWindowBits)
        {
            sb.Append("; server_max_window_bits=").Append(ServerMaxWindowBits);
        }
        if (ClientMaxWindowBits is int clientBits)
        {
            sb.Append("; client_max_window_bits=").Append(clientBits);
        }
        return sb.ToString();
    }
}
