using System.Text;
using System.Text.Json;
using EmitHub.Core.Channels;

namespace EmitHub.Net.Api;

/// <summary>
/// Parses and validates the REST JSON bodies (SPEC §2, §4, §6): nesting deeper than 64, duplicate member names,
/// wrong types, fractions and out-of-range numbers are refused with a sentence naming the field and what is
/// allowed. Unknown fields are ignored.
/// </summary>
public static class ChannelRequests
{
    /// <summary>Longest channel name in characters.</summary>
    public const int MaxNameLength = 200;
    /// <summary>Longest description in characters.</summary>
    public const int MaxDescriptionLength = 2000;
    /// <summary>Upper bound of <c>max_connections</c>.</summary>
    public const int MaxConnectionsLimit = 1_000_000;
    /// <summary>Upper bound of <c>rate_limit_per_minute</c>.</summary>
    public const int MaxRateLimit = 1_000_000;
    /// <summary>Upper bound of <c>replay_last</c>.</summary>
    public const int MaxReplayLast = 100;

    private const string InvalidTextError =
        "Request body holds text that is not valid Unicode (invalid UTF-8 bytes or an unpaired surrogate escape such as \\ud800); send UTF-8 JSON.";

    private static readonly JsonDocumentOptions s_documentOptions = new()
    {
        MaxDepth = 64,
        AllowDuplicateProperties = false,
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Disallow,
    };

    /// <summary>Parses a create body. Returns false with a sentence in <paramref name="error"/> when invalid.</summary>
    public static bool TryParseCreate(ReadOnlySpan<byte> json, out ChannelCreateRequest? request, out string? error) =>
        Guarded(json, TryParseCreateCore, out request, out error);

    private static bool TryParseCreateCore(ReadOnlySpan<byte> json, out ChannelCreateRequest? request, out string? error)
    {
        request = null;
        if (!TryParseObject(json, out var document, out error))
        {
            return false;
        }
        using (document)
        {
            var root = document!.RootElement;
            if (!root.TryGetProperty("name", out var nameElement) || nameElement.ValueKind == JsonValueKind.Null)
            {
                error = "Field 'name' is required: a string of 1 to 200 characters.";
                return false;
            }
            if (!TryReadName(nameElement, out var name, out error) ||
                !TryReadDescription(root, out _, out var description, out error) ||
                !TryReadSettings(root, out var settings, out error))
            {
                return false;
            }
            request = new ChannelCreateRequest(name!, description, settings!);
            return true;
        }
    }

    /// <summary>Parses a patch body. Returns false with a sentence in <paramref name="error"/> when invalid.</summary>
    public static bool TryParsePatch(ReadOnlySpan<byte> json, out ChannelPatchRequest? request, out string? error) =>
        Guarded(json, TryParsePatchCore, out request, out error);

    private static bool TryParsePatchCore(ReadOnlySpan<byte> json, out ChannelPatchRequest? request, out string? error)
    {
        request = null;
        if (!TryParseObject(json, out var document, out error))
        {
            return false;
        }
        using (document)
        {
            var root = document!.RootElement;
            string? name = null;
            if (root.TryGetProperty("name", out var nameElement) && !TryReadName(nameElement, out name, out error))
            {
                return false;
            }
            if (!TryReadDescription(root, out var hasDescription, out var description, out error) ||
                !TryReadSettings(root, out var settings, out error))
            {
                return false;
            }
            request = new ChannelPatchRequest(name, hasDescription, description, settings!);
            return true;
        }
    }

    /// <summary>
    /// The one allowed <c>message_type</c> of a broadcast body (the seed's only value). Clients tell envelopes apart
    /// by their <c>status</c>; any other <c>message_type</c> is 400 rather than silently ignored, so a sender never
    /// believes it chose a behaviour the hub does not have.
    /// </summary>
    public const string BroadcastMessageType = "Broadcast";

    /// <summary>
    /// Parses a broadcast body: <c>content</c> (string, required), <c>message_type</c> (absent, null or exactly
    /// <c>"Broadcast"</c>; anything else is refused naming the allowed value), <c>data</c> (any JSON, optional).
    /// </summary>
    public static bool TryParseBroadcast(ReadOnlySpan<byte> json, out BroadcastRequest? request, out string? error) =>
        Guarded(json, TryParseBroadcastCore, out request, out error);

    private static bool TryParseBroadcastCore(ReadOnlySpan<byte> json, out BroadcastRequest? request, out string? error)
    {
        request = null;
        if (!TryParseObject(json, out var document, out error))
        {
            return false;
        }
        using (document)
        {
            var root = document!.RootElement;
            if (!root.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
            {
                error = "Field 'content' is required and must be a string.";
                return false;
            }
            var messageType = BroadcastMessageType;
            if (root.TryGetProperty("message_type", out var type) && type.ValueKind != JsonValueKind.Null)
            {
                if (type.ValueKind != JsonValueKind.String)
                {
                    error = "Field 'message_type' must be a string.";
                    return false;
                }
                messageType = type.GetString()!;
                if (messageType != BroadcastMessageType)
                {
                    error = $"Field 'message_type' must be \"{BroadcastMessageType}\" (the only type of a REST broadcast; it may be " +
                            $"left out); got \"{Shorten(messageType)}\". Put what kind of message it is in 'data' instead, e.g. " +
                            "{\"kind\": \"alert\"}.";
                    return false;
                }
            }
            ReadOnlyMemory<byte> data = default;
            if (root.TryGetProperty("data", out var dataElement) && dataElement.ValueKind != JsonValueKind.Null)
            {
                data = Encoding.UTF8.GetBytes(dataElement.GetRawText());
            }
            request = new BroadcastRequest(content.GetString()!, messageType, data);
            return true;
        }
    }

    /// <summary>
    /// Parses a subscriber token request (<c>POST …/tokens</c>): <c>sub</c> (string of 1–200 characters, or null)
    /// and <c>ttl_seconds</c> (whole number 1–2,592,000, or null). An empty body means the defaults. Same rules as
    /// every other body: one JSON object, no duplicate members, nesting at most 64; unknown fields are ignored.
    /// </summary>
    public static bool TryParseTokenRequest(ReadOnlySpan<byte> json, out SubscriberTokenRequest? request, out string? error)
    {
        if (json.IsEmpty)
        {
            request = new SubscriberTokenRequest(null, Auth.SubscriberTokenIssuer.DefaultTtlSeconds);
            error = null;
            return true;
        }
        return Guarded(json, TryParseTokenRequestCore, out request, out error);
    }

    private static bool TryParseTokenRequestCore(ReadOnlySpan<byte> json, out SubscriberTokenRequest? request, out string? error)
    {
        request = null;
        if (!TryParseObject(json, out var document, out error))
        {
            return false;
        }
        using (document)
        {
            var root = document!.RootElement;
            string? subject = null;
            if (root.TryGetProperty("sub", out var sub) && sub.ValueKind != JsonValueKind.Null)
            {
                if (sub.ValueKind != JsonValueKind.String || sub.GetString()!.Length is 0 or > Auth.SubscriberTokenValidator.MaxSubjectLength)
                {
                    error = $"Field 'sub' must be a string of 1 to {Auth.SubscriberTokenValidator.MaxSubjectLength} characters.";
                    return false;
                }
                subject = sub.GetString();
            }
            long ttl = Auth.SubscriberTokenIssuer.DefaultTtlSeconds;
            if (root.TryGetProperty("ttl_seconds", out var ttlElement) && ttlElement.ValueKind != JsonValueKind.Null &&
                (ttlElement.ValueKind != JsonValueKind.Number || !TryGetWholeNumber(ttlElement, out ttl) || ttl < 1 || ttl > Auth.SubscriberTokenIssuer.MaxTtlSeconds))
            {
                error = $"Field 'ttl_seconds' must be a whole number from 1 to {Auth.SubscriberTokenIssuer.MaxTtlSeconds} (30 days); got {Describe(ttlElement)}.";
                return false;
            }
            request = new SubscriberTokenRequest(subject, (int)ttl);
            return true;
        }
    }

    /// <summary>A value quoted in an error sentence, cut to 40 characters so a huge field does not fill the answer.</summary>
    private static string Shorten(string value) => value.Length <= 40 ? value : value[..40] + "…";

    private delegate bool Parser<T>(ReadOnlySpan<byte> json, out T? request, out string? error);

    private static bool Guarded<T>(ReadOnlySpan<byte> json, Parser<T> parse, out T? request, out string? error)
        where T : class
    {
        try
        {
            return parse(json, out request, out error);
        }
        catch (InvalidOperationException)
        {
            // JsonDocument checks string contents only when they are read: invalid UTF-8 bytes or an unpaired
            // surrogate escape ("\ud800") surface here, and are the client's error, not the server's.
            request = null;
            error = InvalidTextError;
            return false;
        }
    }

    private static bool TryParseObject(ReadOnlySpan<byte> json, out JsonDocument? document, out string? error)
    {
        document = null;
        error = null;
        try
        {
            // JsonDocument refuses trailing content, so one body is exactly one JSON value.
            document = JsonDocument.Parse(json.ToArray(), s_documentOptions);
        }
        catch (JsonException ex)
        {
            document?.Dispose();
            document = null;
            error = DescribeJsonError(ex, empty: json.Trim(" \t\r\n"u8).IsEmpty);
            return false;
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            document = null;
            error = "Request body must be a JSON object.";
            return false;
        }
        return true;
    }

    /// <summary>
    /// One sentence for the API user: where the body stops being JSON (1-based line and byte) and why, without the
    /// parser's advice to its own developer ("Change the reader options", "isFinalBlock").
    /// </summary>
    private static string DescribeJsonError(JsonException ex, bool empty)
    {
        var message = ex.Message;
        if (message.Contains("maximum configured depth", StringComparison.OrdinalIgnoreCase))
        {
            return "Request body is nested deeper than 64 levels.";
        }
        if (message.Contains("duplicate", StringComparison.OrdinalIgnoreCase))
        {
            return $"Request body repeats a member name; each member may appear once ({Trim(message)}).";
        }
        if (empty)
        {
            return "Request body is not valid JSON: it is empty; send one JSON object.";
        }
        var at = ex.LineNumber is long line && ex.BytePositionInLine is long position
            ? $" at line {line + 1}, byte {position + 1}"
            : "";
        return $"Request body is not valid JSON{at}: {Reason(message)}.";
    }

    /// <summary>The reader's explanation, cut before its position suffix, with the developer-facing parts removed.</summary>
    private static string Reason(string message)
    {
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        var text = Trim(cut > 0 ? message[..cut] : message)
            .Replace(" Change the reader options", "", StringComparison.Ordinal)
            .Replace(" which is not supported in this mode", "", StringComparison.Ordinal)
            .Replace(", when isFinalBlock is true", "", StringComparison.Ordinal)
            .Replace("is invalid after a single JSON value. Expected end of data", "comes after the end of the JSON value", StringComparison.Ordinal);
        return text.TrimEnd('.', ' ');
    }

    private static string Trim(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        var text = cut > 0 ? message[..cut] : message;
        return text.TrimEnd('.');
    }

    private static bool TryReadName(JsonElement element, out string? name, out string? error)
    {
        name = null;
        error = null;
        if (element.ValueKind != JsonValueKind.String)
        {
            error = "Field 'name' must be a string of 1 to 200 characters.";
            return false;
        }
        var value = element.GetString()!;
        var length = CountCharacters(value);
        if (length == 0 || string.IsNullOrWhiteSpace(value))
        {
            error = "Field 'name' must not be empty: give 1 to 200 characters.";
            return false;
        }
        if (length > MaxNameLength)
        {
            error = $"Field 'name' has {length} characters; at most 200 are allowed.";
            return false;
        }
        name = value;
        return true;
    }

    private static bool TryReadDescription(JsonElement root, out bool present, out string? description, out string? error)
    {
        description = null;
        error = null;
        present = root.TryGetProperty("description", out var element);
        if (!present || element.ValueKind == JsonValueKind.Null)
        {
            return true;
        }
        if (element.ValueKind != JsonValueKind.String)
        {
            error = "Field 'description' must be a string (at most 2000 characters) or null.";
            return false;
        }
        var value = element.GetString()!;
        var length = CountCharacters(value);
        if (length > MaxDescriptionLength)
        {
            error = $"Field 'description' has {length} characters; at most 2000 are allowed.";
            return false;
        }
        description = value;
        return true;
    }

    private static bool TryReadSettings(JsonElement root, out ChannelSettingsPatch? settings, out string? error)
    {
        settings = new ChannelSettingsPatch();
        error = null;
        if (!root.TryGetProperty("settings", out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return true;
        }
        if (element.ValueKind != JsonValueKind.Object)
        {
            error = "Field 'settings' must be an object.";
            return false;
        }
        if (!TryReadInt(element, "max_connections", 1, MaxConnectionsLimit, out var maxConnections, out error) ||
            !TryReadBool(element, "allow_client_messages", out var allowClient, out error) ||
            !TryReadBool(element, "persist_messages", out var persist, out error) ||
            !TryReadInt(element, "rate_limit_per_minute", 0, MaxRateLimit, out var rate, out error) ||
            !TryReadInt(element, "replay_last", 0, MaxReplayLast, out var replay, out error) ||
            !TryReadBool(element, "private", out var isPrivate, out error))
        {
            settings = null;
            return false;
        }
        settings = new ChannelSettingsPatch(maxConnections, allowClient, persist, rate, replay, isPrivate);
        return true;
    }

    private static bool TryReadInt(JsonElement parent, string name, int min, int max, out int? value, out string? error)
    {
        value = null;
        error = null;
        if (!parent.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return true;
        }
        // A whole number may be written as 10, 10.0 or 1e1 (JSON has one number type); 1.5 is a fraction and refused.
        if (element.ValueKind != JsonValueKind.Number || !TryGetWholeNumber(element, out var number) || number < min || number > max)
        {
            error = $"Field 'settings.{name}' must be a whole number from {min} to {max}; got {Describe(element)}.";
            return false;
        }
        value = (int)number;
        return true;
    }

    private static bool TryGetWholeNumber(JsonElement element, out long number)
    {
        if (element.TryGetInt64(out number))
        {
            return true;
        }
        if (element.TryGetDouble(out var value) && Math.Abs(value) <= 1e15 && value == Math.Floor(value))
        {
            number = (long)value;
            return true;
        }
        return false;
    }

    private static bool TryReadBool(JsonElement parent, string name, out bool? value, out string? error)
    {
        value = null;
        error = null;
        if (!parent.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return true;
        }
        if (element.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            error = $"Field 'settings.{name}' must be true or false; got {Describe(element)}.";
            return false;
        }
        value = element.GetBoolean();
        return true;
    }

    private static string Describe(JsonElement element) => Shorten(element.GetRawText());

    private static int CountCharacters(string value)
    {
        var count = 0;
        foreach (var _ in value.EnumerateRunes())
        {
            count++;
        }
        return count;
    }
}
