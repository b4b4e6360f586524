using System.Text.Json.Serialization;

namespace EmitHub.Core.Channels;

/// <summary>Source-generated JSON metadata for Core's wire shapes (snake_case, enums as names). No reflection.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ChannelSnapshot))]
[JsonSerializable(typeof(IReadOnlyList<ChannelSnapshot>))]
[JsonSerializable(typeof(List<ChannelSnapshot>))]
[JsonSerializable(typeof(BroadcastAck))]
public sealed partial class CoreJsonContext : JsonSerializerContext;
