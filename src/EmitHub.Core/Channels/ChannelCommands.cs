namespace EmitHub.Core.Channels;

/// <summary>Optional settings of a create or patch body; null means "not given".</summary>
public sealed record ChannelSettingsPatch(
    int? MaxConnections = null,
    bool? AllowClientMessages = null,
    bool? PersistMessages = null,
    int? RateLimitPerMinute = null,
    int? ReplayLast = null,
    bool? Private = null)
{
    /// <summary>Applies the given keys over <paramref name="current"/>.</summary>
    public ChannelSettings ApplyTo(ChannelSettings current) => new(
        MaxConnections ?? current.MaxConnections,
        AllowClientMessages ?? current.AllowClientMessages,
        PersistMessages ?? current.PersistMessages,
        RateLimitPerMinute ?? current.RateLimitPerMinute,
        ReplayLast ?? current.ReplayLast,
        Private ?? current.Private);
}

/// <summary><c>POST /channels</c> body.</summary>
public sealed record ChannelCreateRequest(string Name, string? Description, ChannelSettingsPatch Settings);

/// <summary><c>PATCH /channels/{id}</c> body: only fields present change (<see cref="HasDescription"/> distinguishes
/// an explicit <c>null</c> from an absent description).</summary>
public sealed record ChannelPatchRequest(string? Name, bool HasDescription, string? Description, ChannelSettingsPatch Settings);

/// <summary><c>POST /channels/{id}/broadcast</c> body. <see cref="DataJson"/> holds the raw JSON of <c>data</c>
/// (empty when absent or null).</summary>
public sealed record BroadcastRequest(string Content, string MessageType, ReadOnlyMemory<byte> DataJson);
