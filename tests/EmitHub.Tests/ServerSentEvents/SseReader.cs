using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.ServerSentEvents;

/// <summary>One event as a text/event-stream parser sees it (HTML §9.2.6), plus comment lines seen before it.</summary>
internal sealed record SseEvent(string? Id, string Event, string Data, int CommentsBefore)
{
    public JsonElement Envelope => JsonDocument.Parse(Data).RootElement.Clone();
}

/// <summary>A .NET HttpClient reader of <c>GET /api/v1/channels/{id}/events</c>, parsing the stream line by line.</summary>
internal sealed class SseReader : IDisposable
{
    private readonly HttpClient _client;
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private SseReader(HttpClient client, HttpResponseMessage response, StreamReader reader)
    {
        _client = client;
        _response = response;
        _reader = reader;
    }

    public HttpResponseMessage Response => _response;

    public static async Task<SseReader> OpenAsync(TestHubServer hub, string id, string query = "", string? lastEventId = null, string? origin = null)
    {
        var client = new HttpClient { BaseAddress = hub.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
        var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/channels/{id}/events{query}");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        var stream = await response.Content.ReadAsStreamAsync(cts.Token);
        return new SseReader(client, response, new StreamReader(stream, Encoding.UTF8));
    }

    /// <summary>The next event (skipping comments, counted), or null when the stream ended. Bounded at 15 s.</summary>
    public async Task<SseEvent?> ReadEventAsync(int timeoutSeconds = 15)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        string? id = null, name = null;
        var data = new StringBuilder();
        var comments = 0;
        while (true)
        {
            var line = await _reader.ReadLineAsync(cts.Token);
            if (line is null)
            {
                return null;
            }
            if (line.Length == 0)
            {
                if (name is not null || data.Length > 0)
                {
                    return new SseEvent(id, name ?? "message", data.ToString(), comments);
                }
                continue;
            }
            if (line[0] == ':')
            {
                comments++;
                continue;
            }
            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id": id = value; break;
                case "event": name = value; break;
                case "data": data.Append(value); break;
            }
        }
    }

    /// <summary>Reads lines until a comment line arrives (a heartbeat); false when the stream ended first.</summary>
    public async Task<bool> WaitForCommentAsync(int timeoutSeconds = 15)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        while (await _reader.ReadLineAsync(cts.Token) is { } line)
        {
            if (line.StartsWith(':'))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The rest of the body (for refusals: the JSON error).</summary>
    public Task<string> ReadBodyAsync() => _reader.ReadToEndAsync();

    public void Dispose()
    {
        _reader.Dispose();
        _response.Dispose();
        _client.Dispose();
    }
}
