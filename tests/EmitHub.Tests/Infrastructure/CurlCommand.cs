using System.Text;
using System.Text.RegularExpressions;

namespace EmitHub.Tests.Infrastructure;

/// <summary>
/// A documented <c>curl</c> command line (from the seed or /docs), run with the real <c>curl</c> through
/// <c>bash -c</c> exactly as a user would paste it, after substituting <c>localhost:PORT</c> and the channel id
/// placeholders. The HTTP status is added by a throw-away <c>.curlrc</c> (<c>CURL_HOME</c>), so the command text
/// itself is not changed.
/// </summary>
public sealed partial class CurlCommand
{
    private CurlCommand(string text) => Text = text;

    /// <summary>The command as documented (line continuations and multi-line quoted bodies kept).</summary>
    public string Text { get; }

    /// <summary>True when the command sends a body (<c>-d</c>/<c>--data</c>).</summary>
    public bool HasBody => DataOption().IsMatch(Text);

    /// <summary>True for a streaming command (<c>curl -N</c> on Server-Sent Events), which never ends by itself: it is run
    /// for <see cref="StreamSeconds"/> and its timeout (exit 28) is its normal end.</summary>
    public bool IsStream => Text.Contains(" -N ", StringComparison.Ordinal);

    /// <summary>How long a streaming command runs before curl's <c>--max-time</c> ends it.</summary>
    public const int StreamSeconds = 3;

    /// <summary>True when the command sets <c>Content-Type: application/json</c>.</summary>
    public bool HasJsonContentType => JsonContentTypeOption().IsMatch(Text);

    /// <summary>The <c>"content"</c> string of the body, JSON-unescaped, or null.</summary>
    public string? Content => ContentField().Match(Text) is { Success: true } m ? System.Text.Json.JsonDocument.Parse($"\"{m.Groups[1].Value}\"").RootElement.GetString() : null;

    /// <summary>The same command without its <c>-H "Content-Type: application/json"</c> (curl then sends
    /// <c>application/x-www-form-urlencoded</c> with <c>-d</c>).</summary>
    public CurlCommand WithoutContentType() => new(JsonContentTypeOption().Replace(Text, ""));

    /// <summary>The same command with <c>-H "Content-Type: application/json"</c> added when it has a body and none.</summary>
    public CurlCommand WithJsonContentType() =>
        !HasBody || HasJsonContentType ? this : new("curl -H \"Content-Type: application/json\"" + Text["curl".Length..]);

    /// <summary>
    /// The curl commands of a shell snippet: a command starts at a line beginning with <c>curl</c> and takes every
    /// following line that is indented or continues a quoted string; comments, blank lines and other commands
    /// (<c>export</c>, <c>cargo run</c>) end it and are skipped.
    /// </summary>
    public static IReadOnlyList<CurlCommand> Extract(string shell)
    {
        var commands = new List<CurlCommand>();
        StringBuilder? current = null;
        foreach (var line in shell.Replace("\r\n", "\n").Split('\n'))
        {
            var continues = current != null && (line.StartsWith(' ') || line.StartsWith('\t') || IsInsideQuote(current.ToString()));
            if (continues)
            {
                current!.Append('\n').Append(line);
                continue;
            }
            if (current != null)
            {
                commands.Add(new CurlCommand(current.ToString().TrimEnd()));
                current = null;
            }
            if (line.StartsWith("curl ", StringComparison.Ordinal))
            {
                current = new StringBuilder(line);
            }
        }
        if (current != null)
        {
            commands.Add(new CurlCommand(current.ToString().TrimEnd()));
        }
        return commands;
    }

    /// <summary>Runs the command against <paramref name="port"/> on 127.0.0.1 with <paramref name="channelId"/> for
    /// the placeholders; returns the status and body.</summary>
    public async Task<(int Status, string Body)> RunAsync(int port, string? channelId)
    {
        // Every documented port (8080, and 8081/8082 of the cluster example) becomes this test server's.
        var text = LocalhostPort().Replace(Text, $"127.0.0.1:{port}");
        if (channelId != null)
        {
            foreach (var placeholder in new[] { "{channel_id}", "CHANNEL_ID", "550e8400-e29b-41d4-a716-446655440000", "$ID" })
            {
                text = text.Replace(placeholder, channelId, StringComparison.Ordinal);
            }
        }
        var home = Directory.CreateTempSubdirectory("emithub-curl-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(home, ".curlrc"),
                $"silent\nshow-error\nwrite-out = \"\\n%{{http_code}}\"\nmax-time = {(IsStream ? StreamSeconds : 30)}\n");
            var (exit, output, stderr) = await ProcessRun.RunAsync("bash", ["-c", text], TimeSpan.FromSeconds(60), configure: psi =>
            {
                psi.StandardOutputEncoding = Encoding.UTF8;
                psi.Environment["CURL_HOME"] = home;
                psi.Environment.Remove("EMIT_HUB_API_KEY"); // the test server has no key; the page's $EMIT_HUB_API_KEY is empty
                psi.Environment["LC_ALL"] = "C.UTF-8";
            });
            // 28: --max-time reached, the expected end of a stream.
            Assert.True(exit == 0 || (IsStream && exit == 28), $"curl failed ({exit}): {stderr}\n{text}");
            var newline = output.LastIndexOf('\n');
            return (int.Parse(output[(newline + 1)..], System.Globalization.CultureInfo.InvariantCulture), output[..Math.Max(0, newline)]);
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    /// <inheritdoc />
    public override string ToString() => Text;

    private static bool IsInsideQuote(string text)
    {
        var single = false;
        var dbl = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\'' && !dbl)
            {
                single = !single;
            }
            else if (c == '"' && !single && (i == 0 || text[i - 1] != '\\'))
            {
                dbl = !dbl;
            }
        }
        return single || dbl || text.EndsWith('\\');
    }

    [GeneratedRegex(@"\blocalhost:\d+")]
    private static partial Regex LocalhostPort();

    [GeneratedRegex(@"(^|\s)(-d|--data(-raw|-binary)?)\s")]
    private static partial Regex DataOption();

    [GeneratedRegex(@"-H\s+[""']Content-Type:\s*application/json[""'][ \t]*(\\\n[ \t]*)?", RegexOptions.IgnoreCase)]
    private static partial Regex JsonContentTypeOption();

    [GeneratedRegex(@"""content"":\s*""((?:[^""\\]|\\.)*)""")]
    private static partial Regex ContentField();
}
