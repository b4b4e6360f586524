namespace EmitHub.Net.WebSockets.Compression;

/// <summary>
/// <c>[websocket] compression</c>: how the server answers a client's <c>permessage-deflate</c> offer (RFC 7692) and
/// compresses what it sends.
/// </summary>
public enum WebSocketCompressionMode : byte
{
    /// <summary><c>off</c>: every offer is declined; frames go out uncompressed.</summary>
    Off = 0,

    /// <summary><c>shared</c> (default): the server answers with <c>server_no_context_takeover</c>, so each broadcast
    /// is compressed once, on its own, and the same compressed frame goes to every subscriber that negotiated it. No
    /// compressor per connection; CPU per broadcast, not per delivery.</summary>
    Shared,

    /// <summary><c>per_connection</c>: each connection keeps its own compressor with context takeover (a better ratio
    /// for repetitive streams, at the CPU cost of one compression per delivery and a deflate state per connection).</summary>
    PerConnection,
}

/// <summary>Parses and names <see cref="WebSocketCompressionMode"/> values as written in TOML and the environment.</summary>
public static class WebSocketCompressionModes
{
    /// <summary>The names accepted for <c>[websocket] compression</c>, in the order the docs list them.</summary>
    public static readonly IReadOnlyList<string> Names = ["off", "shared", "per_connection"];

    /// <summary>Maps <c>off</c>, <c>shared</c> or <c>per_connection</c> (exact, lowercase) to its mode; false otherwise.</summary>
    public static bool TryParse(string? text, out WebSocketCompressionMode mode)
    {
        switch (text)
        {
            case "off":
                mode = WebSocketCompressionMode.Off;
                return true;
            case "shared":
                mode = WebSocketCompressionMode.Shared;
                return true;
            case "per_connection":
                mode = WebSocketCompressionMode.PerConnection;
                return true;
            default:
                mode = WebSocketCompressionMode.Off;
                return false;
        }
    }
}
