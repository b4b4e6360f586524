namespace EmitHub.Core.Channels;

/// <summary>Emission state of a channel (seed "Control de Emisión"). Serialized as its name.</summary>
public enum ChannelStatus
{
    /// <summary>Created, never started. Clients are denied (1008).</summary>
    Created,
    /// <summary>Emitting: clients connect and receive broadcasts.</summary>
    Active,
    /// <summary>Connections stay open; broadcasts are refused (409).</summary>
    Paused,
    /// <summary>Clients were closed 1001; new ones are denied. Start makes it Active again.</summary>
    Stopped,
}

/// <summary>A channel's settings (SPEC §2, ranges in §6).</summary>
/// <param name="MaxConnections">1–1,000,000 concurrent WebSocket clients.</param>
/// <param name="AllowClientMessages">Whether client text frames are relayed as <c>client_message</c>.</param>
/// <param name="PersistMessages">Whether broadcasts and client messages are stored (history, recovery).</param>
/// <param name="RateLimitPerMinute">0–1,000,000 broadcasts per 60 s (and client messages per connection); 0 = unlimited.</param>
/// <param name="ReplayLast">0–100 latest broadcasts sent right after <c>connected</c>.</param>
/// <param name="Private">Whether a WebSocket client must present a subscriber token (a JWT naming the channel).</param>
public sealed record ChannelSettings(
    int MaxConnections,
    bool AllowClientMessages,
    bool PersistMessages,
    int RateLimitPerMinute,
    int ReplayLast,
    bool Private = false);
