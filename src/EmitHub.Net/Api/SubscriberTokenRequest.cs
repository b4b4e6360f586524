namespace EmitHub.Net.Api;

/// <summary>
/// A parsed <c>POST /api/v1/channels/{id}/tokens</c> body (see <see cref="ChannelRequests.TryParseTokenRequest"/>).
/// </summary>
/// <param name="Subject">The token's <c>sub</c> claim (1–200 characters; shown as <c>client_message.data.sender</c>),
/// or null for none.</param>
/// <param name="TtlSeconds">The token's lifetime in seconds, 1 to 2,592,000 (30 days); 3600 when not given.</param>
public sealed record SubscriberTokenRequest(string? Subject, int TtlSeconds);
