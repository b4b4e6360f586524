using System.Text.Json.Serialization;

namespace EmitHub.Core.Channels;

/// <summary>Why a channel operation was refused; EmitHub.Net maps each to one HTTP status.</summary>
public enum ChannelError
{
    /// <summary>Succeeded.</summary>
    None,
    /// <summary>Unknown channel (404).</summary>
    NotFound,
    /// <summary>Invalid request body or argument (400).</summary>
    Invalid,
    /// <summary>Not allowed in the channel's current status (409).</summary>
    Conflict,
    /// <summary>Content over <c>message_size_limit</c> (413).</summary>
    TooLarge,
    /// <summary>Over <c>rate_limit_per_minute</c> (429 with Retry-After).</summary>
    RateLimited,
    /// <summary>The store failed to commit (503).</summary>
    Unavailable,
}

/// <summary>Outcome of a channel operation: the channel on success, else an error with a human sentence and a snake_case code.</summary>
public readonly record struct ChannelResult(ChannelError Error, ChannelSnapshot? Channel, string? Message = null, string? Code = null)
{
    /// <summary>True when <see cref="Error"/> is <see cref="ChannelError.None"/>.</summary>
    public bool IsSuccess => Error == ChannelError.None;

    internal static ChannelResult Ok(ChannelSnapshot channel) => new(ChannelError.None, channel);

    internal static ChannelResult Fail(ChannelError error, string code, string message) => new(error, null, message, code);
}

/// <summary>The body of a successful broadcast: <c>{"sequence", "recipients", "timestamp"}</c> (SPEC §2).</summary>
public sealed record BroadcastAck(
    long Sequence,
    int Recipients,
    [property: JsonConverter(typeof(Rfc3339Converter))] DateTimeOffset Timestamp);

/// <summary>Outcome of a broadcast. On 429 and on 503 <c>store_busy</c> or <c>cluster_unavailable</c>, <see cref="RetryAfterSeconds"/> (≥ 1) goes into
/// <c>Retry-After</c>. On 503 <c>store_unavailable</c> (a commit that did not complete) <see cref="Ack"/> holds the
/// sequence and timestamp the message was given, so the client can check history for it.</summary>
public readonly record struct BroadcastResult(ChannelError Error, BroadcastAck? Ack, string? Message = null, string? Code = null, int RetryAfterSeconds = 0)
{
    /// <summary>True when <see cref="Error"/> is <see cref="ChannelError.None"/>.</summary>
    public bool IsSuccess => Error == ChannelError.None;
}

/// <summary>A page of stored history: envelopes (exact JSON bytes clients received), oldest first, and <c>next_after</c>.</summary>
public readonly record struct HistoryResult(ChannelError Error, IReadOnlyList<ReadOnlyMemory<byte>> Envelopes, long NextAfter, string? Message = null, string? Code = null)
{
    /// <summary>True when <see cref="Error"/> is <see cref="ChannelError.None"/>.</summary>
    public bool IsSuccess => Error == ChannelError.None;
}

/// <summary>How a WebSocket subscription attempt ended (SPEC §3).</summary>
public enum SubscribeOutcome
{
    /// <summary><c>connected</c> was sent; the subscription is live.</summary>
    Connected,
    /// <summary>Unknown channel: the router answered 404 before upgrading, so this is a delete racing the
    /// handshake; close 1001 was requested.</summary>
    NotFound,
    /// <summary><c>denied</c> sent and close 1008 requested: channel not Active.</summary>
    NotActive,
    /// <summary><c>denied</c> sent and close 1013 requested: channel at max_connections.</summary>
    Full,
    /// <summary>The subscriber could not keep up with the replay and was closed.</summary>
    Failed,
}

/// <summary>Result of <see cref="ChannelRegistry.SubscribeAsync"/>; <see cref="Subscription"/> is set when connected.</summary>
public readonly record struct SubscribeResult(SubscribeOutcome Outcome, Subscription? Subscription);
