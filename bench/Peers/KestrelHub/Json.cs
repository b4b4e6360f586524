using System.Text.Json.Serialization;

namespace KestrelHub;

public sealed record CreateChannelRequest(string? Name, string? Description, SettingsRequest? Settings);

public sealed record SettingsRequest(int? MaxConnections, bool? AllowClientMessages, bool? PersistMessages,
    int? RateLimitPerMinute, int? ReplayLast);

public sealed record BroadcastRequest(string? Content);

public sealed record SettingsDto(int MaxConnections, bool AllowClientMessages, bool PersistMessages,
    int RateLimitPerMinute, int ReplayLast);

public sealed record StatsDto(int Connections, long MessagesSent);

public sealed record ChannelDto(Guid Id, string Name, string? Description, string Status, DateTime CreatedAt,
    DateTime UpdatedAt, SettingsDto Settings, StatsDto Stats);

public sealed record BroadcastResponse(long Sequence, int Recipients, DateTime Timestamp);

public sealed record ErrorResponse(string Error, string Code);

public sealed record HealthResponse(string Status, string Service, string Version, DateTime Timestamp);

public sealed record BroadcastEnvelope(string Status, string Message, Guid ChannelId, DateTime Timestamp,
    object? Data, long Sequence);

public sealed record ConnectedData(ChannelDto Channel, Guid ConnectionId);

public sealed record ConnectedEnvelope(string Status, string Message, Guid ChannelId, DateTime Timestamp,
    ConnectedData Data);

public sealed record DeniedEnvelope(string Status, string Message, Guid ChannelId, DateTime Timestamp, object? Data);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(CreateChannelRequest))]
[JsonSerializable(typeof(BroadcastRequest))]
[JsonSerializable(typeof(ChannelDto))]
[JsonSerializable(typeof(List<ChannelDto>))]
[JsonSerializable(typeof(BroadcastResponse))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(BroadcastEnvelope))]
[JsonSerializable(typeof(ConnectedEnvelope))]
[JsonSerializable(typeof(DeniedEnvelope))]
internal sealed partial class HubJsonContext : JsonSerializerContext;
