using EmitHub.Core.Channels;

namespace EmitHub.Net.Auth;

/// <summary>
/// Decides whether a subscriber may join a channel: every transport that delivers a channel's messages (WebSocket,
/// and any other stream) asks this one place, so a private channel is private everywhere.
/// </summary>
public interface ISubscriberTokenValidator
{
    /// <summary>
    /// Allowed at once for a public channel; for a private one (<c>settings.private</c>), <paramref name="token"/>
    /// must be a JWT signed with a configured key whose <c>channel</c> claim names the channel and whose
    /// <c>exp</c> (and <c>nbf</c>, if any) hold now, within <c>[auth] clock_skew</c>.
    /// </summary>
    /// <param name="channel">The channel, as the registry returns it.</param>
    /// <param name="token">The presented token (see <see cref="SubscriberTokenSources"/>), or null.</param>
    ValueTask<SubscriberTokenResult> AuthorizeAsync(ChannelSnapshot channel, string? token);
}
