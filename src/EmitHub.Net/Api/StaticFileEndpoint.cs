using System.Globalization;
using System.Text;
using EmitHub.Net.Http;

namespace EmitHub.Net.Api;

/// <summary>
/// Files under <c>static_dir</c> at <c>/</c> paths (issue 12): a kiosk display page, the seed's dashboard (whose
/// relative <c>fetch('/api/v1/…')</c> needs a page served by the hub). The router asks it only for paths no API route,
/// <c>/docs</c> or <c>/</c> took, and never for <c>/api/…</c>.
/// <list type="bullet">
/// <item>The path is percent-decoded as UTF-8 (RFC 3986 §2.1) and split on <c>/</c>; a segment that is empty inside,
/// <c>.</c>, <c>..</c>, starts with <c>.</c> (hidden files), or holds a <c>/</c> (<c>%2F</c>), a backslash, NUL or
/// another control character is refused (404, or 400 for broken percent-encoding) before the file system is
/// touched.</item>
/// <item>Each component is then resolved, symbolic links included; a link whose target lies outside the directory is
/// 404, so the directory is a boundary even for links placed in it.</item>
/// <item>A directory is served as its <c>index.html</c> (a path without the trailing <c>/</c> is redirected 301 so that
/// relative links work); without one it is 404: there is no listing.</item>
/// <item>GET and HEAD only; <c>Content-Type</c> from the extension (<see cref="ContentTypeOf"/>), a strong
/// <c>ETag</c> from size and modification time, <c>Last-Modified</c>, and 304 for a matching <c>If-None-Match</c> or,
/// without one, an <c>If-Modified-Since</c> not older than the file (RFC 9110 §13.1.2, §13.1.3, §13.2.2).</item>
/// <item>A file over <see cref="MaxFileBytes"/> is refused (403): responses are buffered whole.</item>
/// </list>
/// </summary>
internal static class StaticFileEndpoint
{
    /// <summary>Largest file served: 8 MiB. Responses are built in memory, so this bounds what one request can pin;
    /// display pages, scripts, images and notification sounds fit.</summary>
    public const long MaxFileBytes = 8 * 1024 * 1024;

    /// <summary>The document served for a directory.</summary>
    public const string IndexFile = "index.html";

    /// <summary>Answers <paramref name="context"/> from <paramref name="root"/>; <paramref name="method"/> is GET for a
    /// HEAD (the response writer drops the body).</summary>
    public static void Serve(HttpRequestContext context, string root, string method)
    {
        var response = context.Response;
        var path = context.Head.Path;
        if (!TryDecodeSegments(path, out var segments, out var badEncoding))
        {
            if (badEncoding)
            {
                response.WriteError(400, "invalid_path", $"The path {path} has a broken percent-encoding; '%' must be followed by two hex digits of UTF-8.");
            }
            else
            {
                NotFound(response, path);
            }
            return;
        }
        if (!TryResolve(root, segments, out var fullPath, out var isDirectory))
        {
            NotFound(response, path);
            return;
        }
        if (isDirectory)
        {
            if (!path.EndsWith('/'))
            {
                response.WriteEmpty(301);
                response.AddHeader("Location", path + "/" + (context.Head.Query.Length > 0 ? "?" + context.Head.Query : ""));
                return;
            }
            if (!TryResolve(root, [.. segments, IndexFile], out fullPath, out isDirectory) || isDirectory)
            {
                NotFound(response, path);
                return;
            }
        }
        if (method == "OPTIONS")
        {
            response.WriteEmpty(204);
            response.AddHeader("Allow", "GET, HEAD, OPTIONS");
            return;
        }
        if (method != "GET")
        {
            response.WriteError(405, "method_not_allowed", $"{method} is not allowed on {path}, a static file; allowed: GET, HEAD.");
            response.AddHeader("Allow", "GET, HEAD, OPTIONS");
            return;
        }

        var file = new FileInfo(fullPath);
        if (file.Length > MaxFileBytes)
        {
            response.WriteError(403, "file_too_large", $"{path} is {file.Length} bytes; static_dir serves files up to {MaxFileBytes} bytes (8 MiB).");
            return;
        }
        var modified = TruncateToSeconds(file.LastWriteTimeUtc);
        var etag = string.Create(CultureInfo.InvariantCulture, $"\"{file.Length:x}-{modified.Ticks:x}\"");
        var lastModified = modified.ToString("R", CultureInfo.InvariantCulture);
        if (IsNotModified(context.Head, etag, modified))
        {
            response.WriteEmpty(304);
        }
        else
        {
            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(fullPath);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                NotFound(response, path);
                return;
            }
            response.WriteBytes(200, ContentTypeOf(fullPath), bytes);
        }
        response.AddHeader("ETag", etag);
        response.AddHeader("Last-Modified", lastModified);
        // Revalidate every time (a 304 is cheap): an edited display page reaches the kiosk on its next load.
        response.AddHeader("Cache-Control", "no-cache");
        response.AddHeader("X-Content-Type-Options", "nosniff");
    }

    /// <summary>Percent-decodes <paramref name="path"/> and splits it into segments; false for a path that can name no
    /// file under the root (<paramref name="badEncoding"/> true when the encoding itself is broken).</summary>
    internal static bool TryDecodeSegments(string path, out List<string> segments, out bool badEncoding)
    {
        segments = new List<string>();
        badEncoding = false;
        if (!path.StartsWith('/'))
        {
            return false;
        }
        var raw = path.AsSpan(1);
        while (true)
        {
            var slash = raw.IndexOf('/');
            var rawSegment = slash < 0 ? raw : raw[..slash];
            var last = slash < 0;
            if (rawSegment.Length == 0)
            {
                // "/a//b" is refused; only a trailing "/" (a directory) may leave an empty last segment.
                if (!last)
                {
                    return false;
                }
                break;
            }
            if (!TryPercentDecode(rawSegment, out var segment))
            {
                badEncoding = true;
                return false;
            }
            if (segment[0] == '.' || segment.Contains('/') || segment.Contains('\\') || segment.Any(char.IsControl))
            {
                return false;
            }
            segments.Add(segment);
            if (last)
            {
                break;
            }
            raw = raw[(slash + 1)..];
        }
        return segments.Count > 0;
    }

    private static bool TryPercentDecode(ReadOnlySpan<char> text, out string decoded)
    {
        decoded = "";
        var bytes = new byte[text.Length];
        var n = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '%')
            {
                if (i + 2 >= text.Length ||
                    !byte.TryParse(text.Slice(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
                {
                    return false;
                }
                bytes[n++] = b;
                i += 2;
            }
            else if (c > 0x7F)
            {
                return false; // the parser admits only ASCII in a target; anything else was obs-text
            }
            else
            {
                bytes[n++] = (byte)c;
            }
        }
        try
        {
            decoded = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes, 0, n);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
        return decoded.Length > 0;
    }

    /// <summary>Walks <paramref name="segments"/> from <paramref name="root"/>, resolving every symbolic link, and
    /// returns the real path when it exists and stays inside the root.</summary>
    private static bool TryResolve(string root, List<string> segments, out string fullPath, out bool isDirectory)
    {
        fullPath = "";
        isDirectory = false;
        string realRoot;
        try
        {
            var rootInfo = new DirectoryInfo(Path.GetFullPath(root));
            if (!rootInfo.Exists)
            {
                return false;
            }
            realRoot = rootInfo.LinkTarget != null ? rootInfo.ResolveLinkTarget(returnFinalTarget: true)!.FullName : rootInfo.FullName;
            realRoot = Path.TrimEndingDirectorySeparator(realRoot);
            var current = realRoot;
            foreach (var segment in segments)
            {
                var candidate = Path.Combine(current, segment);
                FileSystemInfo info = Directory.Exists(candidate) ? new DirectoryInfo(candidate) : new FileInfo(candidate);
                if (!info.Exists && info.LinkTarget == null)
                {
                    return false;
                }
                if (info.LinkTarget != null)
                {
                    var target = info.ResolveLinkTarget(returnFinalTarget: true);
                    if (target == null || !target.Exists)
                    {
                        return false;
                    }
                    candidate = target.FullName;
                }
                current = Path.GetFullPath(candidate);
                if (!IsInside(realRoot, current))
                {
                    return false;
                }
            }
            isDirectory = Directory.Exists(current);
            fullPath = current;
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return false;
        }
    }

    private static bool IsInside(string root, string path) =>
        path.Length > root.Length && path.StartsWith(root, StringComparison.Ordinal) && path[root.Length] == Path.DirectorySeparatorChar;

    private static bool IsNotModified(HttpRequestHead head, string etag, DateTime modified)
    {
        if (head.GetCombinedField("If-None-Match") is { } ifNoneMatch)
        {
            // Weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
            foreach (var candidate in ifNoneMatch.Split(','))
            {
                var tag = candidate.Trim();
                if (tag == "*" || (tag.StartsWith("W/", StringComparison.Ordinal) ? tag[2..] : tag) == etag)
                {
                    return true;
                }
            }
            return false;
        }
        return head.GetField("If-Modified-Since") is { } since &&
               DateTime.TryParseExact(since, "R", CultureInfo.InvariantCulture,
                   DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var date) &&
               modified <= date;
    }

    private static DateTime TruncateToSeconds(DateTime time) =>
        new(time.Ticks - time.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);

    /// <summary>The <c>Content-Type</c> for a file name: text types carry <c>charset=utf-8</c>; unknown extensions are
    /// <c>application/octet-stream</c> (with <c>nosniff</c>, a browser then downloads rather than guesses).</summary>
    public static string ContentTypeOf(string fileName) => Path.GetExtension(fileName).ToLowerInvariant() switch
    {
        ".html" or ".htm" => "text/html; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".js" or ".mjs" => "text/javascript; charset=utf-8",
        ".json" or ".map" => "application/json",
        ".webmanifest" => "application/manifest+json",
        ".txt" => "text/plain; charset=utf-8",
        ".csv" => "text/csv; charset=utf-8",
        ".xml" => "application/xml",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        ".jpg" or ".jpeg" => "image/jpeg",
        ".gif" => "image/gif",
        ".webp" => "image/webp",
        ".avif" => "image/avif",
        ".ico" => "image/vnd.microsoft.icon",
        ".woff2" => "font/woff2",
        ".woff" => "font/woff",
        ".ttf" => "font/ttf",
        ".otf" => "font/otf",
        ".mp3" => "audio/mpeg",
        ".wav" => "audio/wav",
        ".ogg" or ".oga" => "audio/ogg",
        ".m4a" => "audio/mp4",
        ".mp4" => "video/mp4",
        ".webm" => "video/webm",
        ".pdf" => "application/pdf",
        ".wasm" => "application/wasm",
        _ => "application/octet-stream",
    };

    private static void NotFound(HttpResponse response, string path) =>
        response.WriteError(404, "not_found", $"No endpoint or file at {path}; see /docs for the API.");
}
