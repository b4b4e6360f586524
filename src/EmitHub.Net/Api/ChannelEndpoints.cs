using System.Globalization;
using EmitHub.Core.Channels;
using EmitHub.Net.Http;
using EmitHub.Net.Routing;

namespace EmitHub.Net.Api;

/// <summary>
/// The <c>/api/v1/channels</c> endpoints (SPEC §2, §6). Core parses and validates bodies and owns the status
/// machine; this class maps <see cref="ChannelError"/> to HTTP: NotFound 404, Invalid 400, Conflict 409,
/// TooLarge 413, RateLimited 429 (+ <c>Retry-After</c>), Unavailable 503.
/// </summary>
internal sealed class ChannelEndpoints(ChannelRegistry registry)
{
    /// <summary>Default page size of <c>GET …/messages</c>.</summary>
    public const int DefaultHistoryLimit = 100;

    /// <summary>Largest page size of <c>GET …/messages</c>; larger is 400.</summary>
    public const int MaxHistoryLimit = 1000;

    public ChannelRegistry Registry => registry;

    public void List(HttpResponse response) =>
        response.WriteJson(200, registry.List(), CoreJsonContext.Default.IReadOnlyListChannelSnapshot);

    public void Get(HttpResponse response, Guid id)
    {
        if (registry.Get(id) is { } channel)
        {
            response.WriteJson(200, channel, CoreJsonContext.Default.ChannelSnapshot);
        }
        else
        {
            WriteUnknownChannel(response, id.ToString());
        }
    }

    public async ValueTask CreateAsync(HttpRequestContext context, CancellationToken ct)
    {
        if (!ChannelRequests.TryParseCreate(context.Body.Span, out var request, out var error))
        {
            context.Response.WriteError(400, "invalid_request", JsonBodyPolicy.DescribeInvalidBody(context.Head, error!));
            return;
        }
        var result = await registry.CreateAsync(request!, ct).ConfigureAwait(false);
        if (WriteResult(context.Response, result, 201))
        {
            context.Response.AddHeader("Location", $"/api/v1/channels/{result.Channel!.Id}");
        }
    }

    public async ValueTask PatchAsync(HttpRequestContext context, Guid id, CancellationToken ct)
    {
        if (registry.Get(id) == null)
        {
            WriteUnknownChannel(context.Response, id.ToString());
            return;
        }
        if (!ChannelRequests.TryParsePatch(context.Body.Span, out var request, out var error))
        {
            context.Response.WriteError(400, "invalid_request", JsonBodyPolicy.DescribeInvalidBody(context.Head, error!));
            return;
        }
        WriteResult(context.Response, await registry.UpdateAsync(id, request!, ct).ConfigureAwait(false), 200);
    }

    public async ValueTask DeleteAsync(HttpResponse response, Guid id, CancellationToken ct)
    {
        var result = await registry.DeleteAsync(id, ct).ConfigureAwait(false);
        if (result.IsSuccess)
        {
            response.WriteEmpty(204);
        }
        else
        {
            WriteError(response, result.Error, result.Code, result.Message);
        }
    }

    public async ValueTask ChangeStatusAsync(HttpResponse response, Guid id, string action, CancellationToken ct)
    {
        var result = action switch
        {
            "start" => await registry.StartAsync(id, ct).ConfigureAwait(false),
            "pause" => await registry.PauseAsync(id, ct).ConfigureAwait(false),
            _ => await registry.StopAsync(id, ct).ConfigureAwait(false),
        };
        WriteResult(response, result, 200);
    }

    public async ValueTask BroadcastAsync(HttpRequestContext context, Guid id, CancellationToken ct)
    {
        var response = context.Response;
        if (registry.Get(id) == null)
        {
            WriteUnknownChannel(response, id.ToString());
            return;
        }
        if (!ChannelRequests.TryParseBroadcast(context.Body.Span, out var request, out var error))
        {
            response.WriteError(400, "invalid_request", JsonBodyPolicy.DescribeInvalidBody(context.Head, error!));
            return;
        }
        var result = await registry.BroadcastAsync(id, request!, ct).ConfigureAwait(false);
        if (result.IsSuccess)
        {
            response.WriteJson(200, result.Ack!, CoreJsonContext.Default.BroadcastAck);
            return;
        }
        if (result.Error == ChannelError.Unavailable && result.Ack is { } uncertain)
        {
            // A commit that did not complete: the record may still be durable, so name it for the client to check.
            response.WriteJson(503, new UncommittedBroadcastBody(result.Message!, result.Code!, uncertain.Sequence, uncertain.Timestamp),
                NetJsonContext.Default.UncommittedBroadcastBody);
            return;
        }
        WriteError(response, result.Error, result.Code, result.Message);
        if (result.RetryAfterSeconds > 0 || result.Error == ChannelError.RateLimited)
        {
            response.AddHeader("Retry-After", Math.Max(1, result.RetryAfterSeconds).ToString(CultureInfo.InvariantCulture));
        }
    }

    public async ValueTask MessagesAsync(HttpRequestContext context, Guid id, CancellationToken ct)
    {
        var response = context.Response;
        if (!TryReadHistoryQuery(context.Head.Query, out var after, out var limit, out var error))
        {
            response.WriteError(400, "invalid_query", error!);
            return;
        }
        var result = await registry.GetMessagesAsync(id, after, limit, ct).ConfigureAwait(false);
        if (!result.IsSuccess)
        {
            WriteError(response, result.Error, result.Code, result.Message);
            return;
        }
        response.WriteJson(200, json =>
        {
            json.WriteStartObject();
            json.WriteStartArray("messages"u8);
            foreach (var envelope in result.Envelopes)
            {
                // The stored bytes are exactly what clients received; Core produced them as JSON.
                json.WriteRawValue(envelope.Span, skipInputValidation: true);
            }
            json.WriteEndArray();
            json.WriteNumber("next_after"u8, result.NextAfter);
            json.WriteEndObject();
        });
    }

    /// <summary>Reads <c>after</c> (default 0, ≥ 0) and <c>limit</c> (default 100, 1–1000) from a query string.</summary>
    internal static bool TryReadHistoryQuery(string query, out long after, out int limit, out string? error)
    {
        after = 0;
        limit = DefaultHistoryLimit;
        error = null;
        foreach (var (key, value) in HttpQuery.Pairs(query))
        {
            if (key == "after" && !HttpQuery.TryParseSequence(value, out after))
            {
                error = "Query 'after' must be a whole number ≥ 0 (a sequence).";
                return false;
            }
            if (key == "limit" && (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > MaxHistoryLimit))
            {
                error = $"Query 'limit' must be a whole number from 1 to {MaxHistoryLimit}.";
                return false;
            }
        }
        return true;
    }

    /// <summary>404 for an unknown or malformed channel id.</summary>
    public static void WriteUnknownChannel(HttpResponse response, string id) =>
        response.WriteError(404, "channel_not_found", $"Channel {id} does not exist.");

    private static bool WriteResult(HttpResponse response, ChannelResult result, int successStatus)
    {
        if (result.IsSuccess)
        {
            response.WriteJson(successStatus, result.Channel!, CoreJsonContext.Default.ChannelSnapshot);
            return true;
        }
        WriteError(response, result.Error, result.Code, result.Message);
        return false;
    }

    /// <summary>The one mapping from <see cref="ChannelError"/> to HTTP status.</summary>
    public static int StatusOf(ChannelError error) => error switch
    {
        ChannelError.NotFound => 404,
        ChannelError.Invalid => 400,
        ChannelError.Conflict => 409,
        ChannelError.TooLarge => 413,
        ChannelError.RateLimited => 429,
        ChannelError.Unavailable => 503,
        _ => 500,
    };

    private static void WriteError(HttpResponse response, ChannelError error, string? code, string? message)
    {
        var status = StatusOf(error);
        response.WriteError(status, code ?? "error", message ?? ResponseWriter.ReasonPhrase(status));
    }
}
