using EmitHub.Net.Http;

namespace EmitHub.Net.Auth;

/// <summary>
/// Where a subscriber token travels on an upgrade request. Browsers cannot set headers on a WebSocket, so the token
/// rides in <c>Sec-WebSocket-Protocol</c> (which also keeps it out of access logs): the client offers two
/// subprotocols, <c>emithub.token</c> and the JWT itself (<c>new WebSocket(url, ["emithub.token", jwt])</c>), and
/// the server selects <c>emithub.token</c> (RFC 6455 §4.2.2: the answer names one offered value, never the token).
/// The other way is <c>?token=&lt;jwt&gt;</c>. When both are given the subprotocol wins.
/// </summary>
public static class SubscriberTokenSources
{
    /// <summary>The subprotocol that announces a token in the offered list, and the one the server selects.</summary>
    public const string Subprotocol = "emithub.token";

    /// <summary>
    /// Reads the token from <paramref name="secWebSocketProtocol"/> (the combined field value) or the query.
    /// <paramref name="selectSubprotocol"/> is true when the client offered <see cref="Subprotocol"/>, which the
    /// 101 answer must then name (a browser fails a connection whose offered protocols all go unanswered).
    /// </summary>
    public static string? Find(string? secWebSocketProtocol, string query, out bool selectSubprotocol)
    {
        selectSubprotocol = false;
        string? fromProtocol = null;
        if (secWebSocketProtocol is not null)
        {
            foreach (var range in secWebSocketProtocol.AsSpan().Split(','))
            {
                var value = secWebSocketProtocol.AsSpan()[range].Trim(" \t");
                if (value.SequenceEqual(Subprotocol))
                {
                    selectSubprotocol = true;
                }
                else if (fromProtocol is null && value.Count('.') == 2)
                {
                    fromProtocol = value.ToString();
                }
            }
        }
        if (selectSubprotocol && fromProtocol is not null)
        {
            return fromProtocol;
        }
        foreach (var (name, value) in HttpQuery.Pairs(query))
        {
            if (name == "token")
            {
                return value;
            }
        }
        return null;
    }
}
