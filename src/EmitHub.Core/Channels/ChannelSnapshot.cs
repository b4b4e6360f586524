using System.Text.Json.Serialization;

namespace EmitHub.Core.Channels;

/// <summary>
/// A channel as the REST API returns it (the seed's channel JSON): <c>id</c>, <c>name</c>, <c>description</c>,
/// <c>status</c>, <c>created_at</c>, <c>updated_at</c> (RFC 3339 UTC), <c>settings</c>, <c>stats</c>. Immutable.
/// </summary>
public sealed record ChannelSnapshot(
    Guid Id,
    string Name,
    string? Description,
    ChannelStatus Status,
    [property: JsonConverter(typeof(Rfc3339Converter))] DateTimeOffset CreatedAt,
    [property: JsonConverter(typeof(Rfc3339Converter))] DateTimeOffset UpdatedAt,
    ChannelSettingsJson Settings,
    ChannelStats Stats);

/// <summary>The <c>settings</c> object of the channel JSON.</summary>
public sealed record ChannelSettingsJson(
    int MaxConnections,
    bool AllowClientMessages,
    bool PersistMessages,
    int RateLimitPerMinute,
    int ReplayLast,
    bool Private = false)
{
    /// <summary>Converts the model's settings.</summary>
    public static ChannelSettingsJson From(ChannelSettings s) =>
        new(s.MaxConnections, s.AllowClientMessages, s.PersistMessages, s.RateLimitPerMinute, s.ReplayLast, s.Private);
}

/// <summary>The <c>stats</c> object: open WebSocket connections and messages emitted (once each, not per recipient).</summary>
public sealed record ChannelStats(int Connections, long MessagesSent);
