using System.Globalization;
using System.Text;

namespace EmitHub.Cli;

/// <summary>
/// The one escaper for strings the CLI writes: log lines (text and JSON) and values in <c>emit_hub.toml</c>.
/// A quoted string is at once a JSON string literal (RFC 8259 §7) and a TOML basic string (TOML 1.0 "String"): both
/// need <c>\"</c>, <c>\\</c> and control characters escaped, and both read <c>\n</c>, <c>\r</c>, <c>\t</c> and
/// <c>\uXXXX</c>. Escaped as <c>\uXXXX</c>: C0 controls, DEL and C1 controls (TOML forbids DEL raw; a C1 or ESC could
/// drive a terminal), and U+2028/U+2029 (line breaks to some readers). A lone surrogate becomes U+FFFD, so the output
/// is always valid UTF-8. Non-ASCII text is otherwise kept as is (the seed's emoji stay readable).
/// </summary>
internal static class StringEscaping
{
    /// <summary>Appends <paramref name="text"/> as a quoted JSON string / TOML basic string.</summary>
    public static void AppendQuoted(StringBuilder sb, string text)
    {
        sb.Append('"');
        AppendEscaped(sb, text, quoted: true);
        sb.Append('"');
    }

    /// <summary><paramref name="text"/> as a quoted JSON string / TOML basic string.</summary>
    public static string Quote(string text)
    {
        var sb = new StringBuilder(text.Length + 2);
        AppendQuoted(sb, text);
        return sb.ToString();
    }

    /// <summary>
    /// Appends <paramref name="text"/> with control characters escaped but quotes and backslashes kept, for a text log
    /// line: text that came from a client (a channel name, a close reason) can never forge a log line or send terminal
    /// escape sequences.
    /// </summary>
    public static void AppendControlEscaped(StringBuilder sb, string text) => AppendEscaped(sb, text, quoted: false);

    private static void AppendEscaped(StringBuilder sb, string text, bool quoted)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            switch (c)
            {
                case '"' or '\\' when quoted: sb.Append('\\').Append(c); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case < ' ' or (>= '\u007f' and <= '\u009f') or '\u2028' or '\u2029':
                    sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    break;
                default:
                    if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                    {
                        sb.Append(c).Append(text[++i]);
                    }
                    else
                    {
                        sb.Append(char.IsSurrogate(c) ? '\uFFFD' : c);
                    }
                    break;
            }
        }
    }
}
