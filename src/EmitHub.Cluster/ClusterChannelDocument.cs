using System.Text.Json.Serialization;
using EmitHub.Core.Channels;
using EmitHub.Core.Storage;

namespace EmitHub.Cluster;

/// <summary>
/// A channel as stored in the cluster's key-value bucket (value of key <c>&lt;channel id&gt;</c>): the full state,
/// snake_case JSON. <c>epoch</c> is fixed at creation: the message stream keeps every channel's sequence, so an
/// epoch never changes in a cluster.
/// </summary>
internal sealed record ClusterChannelDocument(
    Guid Id,
    string Name,
    string? Description,
    ChannelStatus Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    int MaxConnections,
    bool AllowClientMessages,
    bool PersistMessages,
    int RateLimitPerMinute,
    int ReplayLast,
    string Epoch)
{
    public static ClusterChannelDocument From(ChannelRecord r) => new(r.Id, r.Name, r.Description, r.Status, r.CreatedAt,
        r.UpdatedAt, r.Settings.MaxConnections, r.Settings.AllowClientMessages, r.Settings.PersistMessages,
        r.Settings.RateLimitPerMinute, r.Settings.ReplayLast, r.Epoch);

    public static ClusterChannelDocument Parse(byte[] json) =>
        System.Text.Json.JsonSerializer.Deserialize(json, ClusterJsonContext.Default.ClusterChannelDocument)
        ?? throw new System.Text.Json.JsonException("A channel document is null.");

    public byte[] ToUtf8() => System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(this, ClusterJsonContext.Default.ClusterChannelDocument);

    public ChannelRecord ToRecord() => new(Id, Name, Description, Status, CreatedAt, UpdatedAt,
        new ChannelSettings(MaxConnections, AllowClientMessages, PersistMessages, RateLimitPerMinute, ReplayLast),
        Epoch, LastSequence: 0, MessagesSent: 0);
}

/// <summary>Source-generated JSON for the cluster's stored shapes (no reflection, AOT-clean).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, UseStringEnumConverter = true)]
[JsonSerializable(typeof(ClusterChannelDocument))]
internal sealed partial class ClusterJsonContext : JsonSerializerContext;
