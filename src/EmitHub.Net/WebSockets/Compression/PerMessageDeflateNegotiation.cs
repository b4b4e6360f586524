namespace EmitHub.Net.WebSockets.Compression;

/// <summary>
/// Answers a client's <c>Sec-WebSocket-Extensions</c> offers (RFC 6455 §9.1, RFC 7692 §5, §7.1): the first
/// <c>permessage-deflate</c> offer the server can accept wins; an offer that breaks the grammar, repeats or misspells
/// a parameter, or carries an invalid value (window bits outside 8-15, a value on a <c>*_no_context_takeover</c>) is
/// declined — the server moves on to the client's next offer, and with none left the connection simply runs
/// uncompressed. The handshake itself is never refused for an extension offer. Pure: no I/O, no state.
/// </summary>
public static class PerMessageDeflateNegotiation
{
    /// <summary>
    /// Picks the agreed parameters for the offers in <paramref name="extensionsField"/> (all
    /// <c>Sec-WebSocket-Extensions</c> lines joined with commas), or null when compression is <see cref="WebSocketCompressionMode.Off"/>
    /// or no offer is acceptable.
    /// </summary>
    public static PerMessageDeflateParameters? Negotiate(string? extensionsField, WebSocketCompressionMode mode)
    {
        if (mode == WebSocketCompressionMode.Off || string.IsNullOrEmpty(extensionsField))
        {
            return null;
        }
        foreach (var element in SplitOutsideQuotes(extensionsField, ','))
        {
            if (TryAccept(element, mode, out var parameters))
            {
                return parameters;
            }
        }
        return null;
    }

    // One extension element "name *( ; param )": accepted only when it is a valid permessage-deflate offer.
    private static bool TryAccept(string element, WebSocketCompressionMode mode, out PerMessageDeflateParameters? parameters)
    {
        parameters = null;
        var parts = SplitOutsideQuotes(element, ';');
        if (parts.Count == 0 || !string.Equals(parts[0].Trim(), PerMessageDeflateParameters.ExtensionName, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        bool serverNoTakeover = false, clientNoTakeover = false;
        int? serverBits = null;
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 1; i < parts.Count; i++)
        {
            if (!TryParseParameter(parts[i], out var name, out var value) || !seen.Add(name))
            {
                return false;
            }
            switch (name.ToLowerInvariant())
            {
                case "server_no_context_takeover":
                    if (value is not null)
                    {
                        return false;
                    }
                    serverNoTakeover = true;
                    break;
                case "client_no_context_takeover":
                    if (value is not null)
                    {
                        return false;
                    }
                    clientNoTakeover = true;
                    break;
                case "server_max_window_bits":
                    // §7.1.2.1: the value is required.
                    if (!TryParseWindowBits(value, out var bits))
                    {
                        return false;
                    }
                    serverBits = bits;
                    break;
                case "client_max_window_bits":
                    // §7.1.2.2: the value is optional; given, it must be 8-15. The server's inflater always holds a
                    // 32 KiB window, which reads any smaller one, so the response does not restate it.
                    if (value is not null && !TryParseWindowBits(value, out _))
                    {
                        return false;
                    }
                    break;
                default:
                    // §7.1: an unknown parameter makes the offer one the server must decline.
                    return false;
            }
        }

        // A window below 15 bits cannot be kept across messages by a 32 KiB-window compressor; such a connection gets
        // the per-message (shared) form, and only messages that fit the window are compressed.
        var sharedForm = mode == WebSocketCompressionMode.Shared || serverNoTakeover || serverBits is < PerMessageDeflateParameters.MaxWindowBits;
        parameters = new PerMessageDeflateParameters(
            ServerNoContextTakeover: sharedForm,
            ClientNoContextTakeover: clientNoTakeover,
            ServerMaxWindowBits: serverBits ?? PerMessageDeflateParameters.MaxWindowBits,
            ClientMaxWindowBits: null,
            IncludeServerMaxWindowBits: serverBits is not null);
        return true;
    }

    // "name" or "name=token" or "name=quoted-string" (RFC 6455 §9.1); a quoted value must unescape to a token (RFC 7692 §7).
    private static bool TryParseParameter(string part, out string name, out string? value)
    {
        value = null;
        var equals = part.IndexOf('=');
        name = (equals < 0 ? part : part[..equals]).Trim();
        if (!IsToken(name))
        {
            return false;
        }
        if (equals < 0)
        {
            return true;
        }
        var raw = part[(equals + 1)..].Trim();
        if (raw.Length >= 2 && raw[0] == '"' && raw[^1] == '"')
        {
            var unescaped = new System.Text.StringBuilder(raw.Length);
            for (var i = 1; i < raw.Length - 1; i++)
            {
                var c = raw[i];
                if (c == '\\')
                {
                    if (++i >= raw.Length - 1)
                    {
                        return false;
                    }
                    c = raw[i];
                }
                else if (c == '"')
                {
                    return false;
                }
                unescaped.Append(c);
            }
            raw = unescaped.ToString();
        }
        if (!IsToken(raw))
        {
            return false;
        }
        value = raw;
        return true;
    }

    // %x38-39 / %x31 %x30-35: "8" to "15" without leading zeros or signs (RFC 7692 §7.1.2.1).
    private static bool TryParseWindowBits(string? value, out int bits)
    {
        bits = 0;
        if (value is null || value.Length is 0 or > 2 || value[0] == '0')
        {
            return false;
        }
        foreach (var c in value)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
            bits = bits * 10 + (c - '0');
        }
        return bits is >= PerMessageDeflateParameters.MinWindowBits and <= PerMessageDeflateParameters.MaxWindowBits;
    }

    // RFC 9110 §5.6.2 token: 1*tchar.
    private static bool IsToken(string text)
    {
        if (text.Length == 0)
        {
            return false;
        }
        foreach (var c in text)
        {
            var tchar = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9')
                or '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~';
            if (!tchar)
            {
                return false;
            }
        }
        return true;
    }

    // Splits on `separator` outside quoted strings; empty list elements (RFC 9110 §5.6.1 "#rule") are skipped.
    private static List<string> SplitOutsideQuotes(string text, char separator)
    {
        var parts = new List<string>();
        var start = 0;
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted && c == '\\')
            {
                i++;
            }
            else if (c == '"')
            {
                quoted = !quoted;
            }
            else if (!quoted && c == separator)
            {
                Add(text[start..i]);
                start = i + 1;
            }
        }
        Add(text[start..]);
        return parts;

        void Add(string part)
        {
            if (separator == ',' ? part.Trim().Length > 0 : true)
            {
                parts.Add(part);
            }
        }
    }
}
