using System.Text.Json;

namespace EmitHub.Net.Multiplex;

/// <summary>What a client asks on the multiplexed socket.</summary>
public enum MultiplexOperationKind : byte
{
    /// <summary><c>{"op":"subscribe","channel":…,"after":…,"epoch":…,"token":…}</c></summary>
    Subscribe,

    /// <summary><c>{"op":"unsubscribe","channel":…}</c></summary>
    Unsubscribe,

    /// <summary><c>{"op":"publish","channel":…,"message":…}</c></summary>
    Publish,
}

/// <summary>One parsed client operation (see <see cref="MultiplexSession"/>). Unknown members are ignored.</summary>
public readonly record struct MultiplexOperation(MultiplexOperationKind Kind, Guid Channel, long? After, string? Epoch, string? Token, string? Message)
{
    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> says what was wrong and what is allowed.</summary>
    public static bool TryParse(string text, out MultiplexOperation operation, out string? error)
    {
        operation = default;
        error = null;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException)
        {
            error = "Operations are JSON objects such as {\"op\":\"subscribe\",\"channel\":\"<id>\"}; this message is not valid JSON.";
            return false;
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("op", out var opElement) || opElement.ValueKind != JsonValueKind.String)
            {
                error = "An operation needs \"op\": \"subscribe\", \"unsubscribe\" or \"publish\".";
                return false;
            }
            MultiplexOperationKind kind;
            switch (opElement.GetString())
            {
                case "subscribe": kind = MultiplexOperationKind.Subscribe; break;
                case "unsubscribe": kind = MultiplexOperationKind.Unsubscribe; break;
                case "publish": kind = MultiplexOperationKind.Publish; break;
                default:
                    error = $"Unknown op '{opElement.GetString()}'; allowed: subscribe, unsubscribe, publish.";
                    return false;
            }
            if (!root.TryGetProperty("channel", out var channelElement) || channelElement.ValueKind != JsonValueKind.String ||
                !Guid.TryParse(channelElement.GetString(), out var channel))
            {
                error = "\"channel\" must be a channel id (a UUID string).";
                return false;
            }
            long? after = null;
            if (root.TryGetProperty("after", out var afterElement) && afterElement.ValueKind != JsonValueKind.Null)
            {
                if (afterElement.ValueKind != JsonValueKind.Number || !afterElement.TryGetInt64(out var value) || value < 0)
                {
                    error = "\"after\" must be a sequence number (a whole number, 0 or more).";
                    return false;
                }
                after = value;
            }
            var epoch = OptionalString(root, "epoch", ref error);
            var token = OptionalString(root, "token", ref error);
            var message = OptionalString(root, "message", ref error);
            if (error is not null)
            {
                return false;
            }
            if (kind == MultiplexOperationKind.Publish && message is null)
            {
                error = "publish needs \"message\": the text to relay to the channel.";
                return false;
            }
            operation = new MultiplexOperation(kind, channel, after, epoch, token, message);
            return true;
        }
    }

    private static string? OptionalString(JsonElement root, string name, ref string? error)
    {
        if (!root.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (element.ValueKind != JsonValueKind.String)
        {
            error ??= $"\"{name}\" must be a string.";
            return null;
        }
        return element.GetString();
    }
}
