using System.Text.Json.Serialization;

namespace EmitHub.Net.Api;

/// <summary>Body of every error answer (SPEC §2): <c>{"error": sentence, "code": snake_case}</c>.</summary>
/// <param name="Error">What was wrong and what is allowed.</param>
/// <param name="Code">Stable snake_case code.</param>
public sealed record ErrorBody(string Error, string Code);

/// <summary>
/// 503 of a broadcast whose commit did not complete (<c>code</c> <c>store_unavailable</c>): the error body plus the
/// <c>sequence</c> and <c>timestamp</c> the message was given. The record may still have reached the disk; once the
/// store is back, <c>GET …/messages?after=sequence-1&amp;limit=1</c> holds an envelope with that sequence and timestamp
/// exactly when it was stored.
/// </summary>
public sealed record UncommittedBroadcastBody(
    string Error,
    string Code,
    long Sequence,
    [property: JsonConverter(typeof(EmitHub.Core.Channels.Rfc3339Converter))] DateTimeOffset Timestamp);

/// <summary><c>GET /health</c> body (seed).</summary>
public sealed record HealthBody(string Status, string Service, string Version, [property: JsonConverter(typeof(EmitHub.Core.Channels.Rfc3339Converter))] DateTimeOffset Timestamp);

/// <summary><c>GET /ready</c> body (seed): <c>checks</c> maps database and memory to <c>ok</c> or a failure.</summary>
public sealed record ReadyBody(string Status, ReadyChecks Checks);

/// <summary>The two readiness checks.</summary>
public sealed record ReadyChecks(
    string Database,
    string Memory,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Nats = null);

/// <summary><c>GET /</c> body (SPEC §6).</summary>
public sealed record ServiceInfoBody(string Service, string Version, string Docs, string Health, string Api);

/// <summary><c>POST /api/v1/channels/{id}/tokens</c> body: the JWT, the channel it opens, its <c>sub</c> and its
/// <c>exp</c> as RFC 3339.</summary>
public sealed record SubscriberTokenBody(string Token, Guid ChannelId, string? Sub,
    [property: JsonConverter(typeof(EmitHub.Core.Channels.Rfc3339Converter))] DateTimeOffset ExpiresAt);

/// <summary>JSON contracts owned by EmitHub.Net, serialized by source generation (AOT-clean).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ErrorBody))]
[JsonSerializable(typeof(UncommittedBroadcastBody))]
[JsonSerializable(typeof(HealthBody))]
[JsonSerializable(typeof(ReadyBody))]
[JsonSerializable(typeof(ServiceInfoBody))]
[JsonSerializable(typeof(SubscriberTokenBody))]
public sealed partial class NetJsonContext : JsonSerializerContext;
