using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using EmitHub.Tests.Config;
using EmitHub.Tests.EndToEnd;

namespace EmitHub.Tests.Persistence;

/// <summary>
/// The real <c>emit-hub</c> process (<see cref="EmitHubProcess"/>) on a store directory that outlives it: start,
/// SIGKILL or SIGTERM, start again on the same <c>db_path</c>. Each start takes a fresh free port and a fresh
/// <see cref="HttpClient"/>. REST helpers speak the seed's JSON (SPEC §2).
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    public const int SigKill = 9;
    public const int SigTerm = 15;
    private const string ReadyLine = "Application state initialized successfully";

    private EmitHubProcess? _process;
    private HttpClient? _http;

    /// <param name="dbPath">The store directory (absolute), created by the server on first start.</param>
    /// <param name="workingDirectory">Where the process runs (no <c>emit_hub.toml</c> there).</param>
    public ServerProcess(string dbPath, string workingDirectory)
    {
        DbPath = dbPath;
        WorkingDirectory = workingDirectory;
    }

    public string DbPath { get; }
    public string WorkingDirectory { get; }
    public int Port { get; private set; }

    /// <summary>Output of every process started so far, oldest first (for failure messages).</summary>
    public StringBuilder History { get; } = new();

    public EmitHubProcess Process => _process ?? throw new InvalidOperationException("Not started.");
    public HttpClient Http => _http ?? throw new InvalidOperationException("Not started.");

    /// <summary>Stdout of the current (or last) process.</summary>
    public string Stdout => _process?.Stdout ?? "";

    /// <summary>Starts the server on <see cref="DbPath"/> and waits until it serves requests. A port grabbed by
    /// someone else between <see cref="EmitHubProcess.FreePort"/> and the bind is retried on another one.</summary>
    /// <param name="extraEnv">More variables for the process.</param>
    /// <param name="port">A fixed port (a restart on the same address, as clients expect); default a free one.</param>
    public async Task StartAsync(IReadOnlyDictionary<string, string>? extraEnv = null, int? port = null)
    {
        if (_process is not null)
        {
            throw new InvalidOperationException("Already running; stop or kill it first.");
        }
        for (var attempt = 1; ; attempt++)
        {
            Port = port ?? EmitHubProcess.FreePort();
            var env = new Dictionary<string, string>
            {
                ["EMIT_HUB_PORT"] = Port.ToString(CultureInfo.InvariantCulture),
                ["EMIT_HUB_DB_PATH"] = DbPath,
                ["EMIT_HUB_LOG_LEVEL"] = "info",
            };
            if (extraEnv is not null)
            {
                foreach (var (name, value) in extraEnv)
                {
                    env[name] = value;
                }
            }
            var process = EmitHubProcess.Start(WorkingDirectory, env);
            try
            {
                await process.WaitForLineAsync(ReadyLine);
            }
            catch (Xunit.Sdk.XunitException) when (attempt < 3 && IsPortTaken(process))
            {
                Record(process);
                process.Dispose();
                continue;
            }
            catch
            {
                Record(process);
                process.Dispose();
                throw;
            }
            _process = process;
            _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Port}"), Timeout = TimeSpan.FromSeconds(30) };
            return;
        }
    }

    private static bool IsPortTaken(EmitHubProcess process) =>
        (process.Stdout + process.Stderr).Contains("address already in use", StringComparison.OrdinalIgnoreCase);

    /// <summary>SIGKILL: no flush, no commit, no close frames — a crash.</summary>
    public async Task KillAsync()
    {
        var process = Process;
        process.Signal(SigKill);
        await process.WaitForExitAsync();
        Forget();
    }

    /// <summary>SIGTERM and wait for the exit; returns the exit code.</summary>
    public async Task<int> StopAsync()
    {
        var process = Process;
        process.Signal(SigTerm);
        var code = await process.WaitForExitAsync();
        Forget();
        return code;
    }

    /// <summary>SIGKILL and start again on the same store.</summary>
    public async Task RestartAfterKillAsync()
    {
        await KillAsync();
        await StartAsync();
    }

    private void Forget()
    {
        Record(_process!);
        _process!.Dispose();
        _process = null;
        _http?.Dispose();
        _http = null;
    }

    private void Record(EmitHubProcess process)
    {
        History.Append("---- emit-hub run ----\nstdout:\n").Append(process.Stdout).Append("stderr:\n").Append(process.Stderr);
    }

    /// <summary>Creates a channel from a JSON body and returns the channel JSON (201 required).</summary>
    public async Task<JsonElement> CreateChannelAsync(string body)
    {
        using var response = await Http.PostAsync("/api/v1/channels", Json(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"create: {(int)response.StatusCode} {text}");
        return Parse(text);
    }

    /// <summary><c>PUT /channels/{id}/{action}</c> (start, pause, stop); 200 required.</summary>
    public async Task<JsonElement> SetStatusAsync(string id, string action)
    {
        using var response = await Http.PutAsync($"/api/v1/channels/{id}/{action}", null);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{action}: {(int)response.StatusCode} {text}");
        return Parse(text);
    }

    public async Task<JsonElement> PatchAsync(string id, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Patch, $"/api/v1/channels/{id}") { Content = Json(body) };
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"patch: {(int)response.StatusCode} {text}");
        return Parse(text);
    }

    public async Task DeleteAsync(string id)
    {
        using var response = await Http.DeleteAsync($"/api/v1/channels/{id}");
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    /// <summary>A persisting (or not), unlimited-rate channel, started.</summary>
    public async Task<string> CreateActiveChannelAsync(string name, bool persist, int replayLast = 0)
    {
        var channel = await CreateChannelAsync(
            $$$"""{"name":"{{{name}}}","settings":{"persist_messages":{{{(persist ? "true" : "false")}}},"rate_limit_per_minute":0,"replay_last":{{{replayLast}}}}}""");
        var id = channel.GetProperty("id").GetString()!;
        await SetStatusAsync(id, "start");
        return id;
    }

    /// <summary>Broadcasts <paramref name="content"/>; returns the ack (<c>sequence</c>, <c>recipients</c>,
    /// <c>timestamp</c>). Anything but 200 fails the test.</summary>
    public async Task<Ack> BroadcastAsync(string id, string content)
    {
        var (status, ack, text) = await TryBroadcastAsync(Http, id, content);
        Assert.True(status == HttpStatusCode.OK, $"broadcast: {(int)status} {text}");
        return ack!;
    }

    /// <summary>One broadcast on <paramref name="http"/>: the status, the ack on 200, and the body text.
    /// Throws what <see cref="HttpClient"/> throws when the server is gone.</summary>
    public static async Task<(HttpStatusCode Status, Ack? Ack, string Body)> TryBroadcastAsync(HttpClient http, string id, string content)
    {
        using var response = await http.PostAsync($"/api/v1/channels/{id}/broadcast",
            Json($$"""{"content":"{{content}}","message_type":"Broadcast"}"""));
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return (response.StatusCode, null, text);
        }
        var json = Parse(text);
        return (response.StatusCode, new Ack(content, json.GetProperty("sequence").GetInt64(), json.GetProperty("timestamp").GetString()!), text);
    }

    /// <summary><c>GET /channels</c>: every channel, oldest first.</summary>
    public async Task<List<JsonElement>> ListChannelsAsync()
    {
        var text = await Http.GetStringAsync("/api/v1/channels");
        return Parse(text).EnumerateArray().ToList();
    }

    public async Task<(HttpStatusCode Status, JsonElement? Channel)> GetChannelAsync(string id)
    {
        using var response = await Http.GetAsync($"/api/v1/channels/{id}");
        return response.StatusCode == HttpStatusCode.OK
            ? (response.StatusCode, Parse(await response.Content.ReadAsStringAsync()))
            : (response.StatusCode, null);
    }

    /// <summary>The whole history of a persisting channel after <paramref name="after"/>, paging by 1000
    /// (checks that <c>next_after</c> is the last sequence of each page).</summary>
    public async Task<List<JsonElement>> GetHistoryAsync(string id, long after = 0)
    {
        var all = new List<JsonElement>();
        for (var page = 0; page < 1000; page++)
        {
            using var response = await Http.GetAsync($"/api/v1/channels/{id}/messages?after={after}&limit=1000");
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"history: {(int)response.StatusCode} {text}");
            var json = Parse(text);
            var messages = json.GetProperty("messages").EnumerateArray().ToList();
            var nextAfter = json.GetProperty("next_after").GetInt64();
            if (messages.Count == 0)
            {
                Assert.Equal(after, nextAfter);
                return all;
            }
            Assert.Equal(messages[^1].GetProperty("sequence").GetInt64(), nextAfter);
            all.AddRange(messages);
            after = nextAfter;
        }
        throw new Xunit.Sdk.XunitException("history never ended");
    }

    public async Task<HttpStatusCode> GetHistoryStatusAsync(string id)
    {
        using var response = await Http.GetAsync($"/api/v1/channels/{id}/messages");
        return response.StatusCode;
    }

    /// <summary>Opens a WebSocket on the channel (query such as <c>?after=5&amp;epoch=…</c>).</summary>
    public async Task<ClientWebSocket> ConnectAsync(string id, string query = "")
    {
        var ws = new ClientWebSocket();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{Port}/api/v1/channels/{id}/ws{query}"), cts.Token);
        return ws;
    }

    /// <summary>Receives the next envelope (30 s liveness bound); fails when the server closed instead.</summary>
    public static async Task<JsonElement> ReceiveAsync(ClientWebSocket ws)
    {
        var envelope = await ws.ReceiveEnvelopeAsync(timeoutSeconds: 30);
        Assert.True(envelope.HasValue, $"the server closed the WebSocket ({ws.CloseStatus} {ws.CloseStatusDescription})");
        return envelope.Value;
    }

    /// <summary>Reads envelopes until the server's close frame (or an error), 30 s liveness bound per message.</summary>
    public static async Task<(List<JsonElement> Envelopes, WebSocketCloseStatus? CloseStatus, string? Error)> ReadUntilClosedAsync(ClientWebSocket ws)
    {
        var envelopes = new List<JsonElement>();
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (true)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                var result = await ws.ReceiveAsync(buffer, cts.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return (envelopes, ws.CloseStatus, null);
                }
                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    envelopes.Add(Parse(Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length)));
                    message.SetLength(0);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            return (envelopes, ws.CloseStatus, ex.GetType().Name + ": " + ex.Message);
        }
    }

    public static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    public static JsonElement Parse(string text)
    {
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { } process)
        {
            // A test that failed midway: SIGKILL and reap, never leave a server behind.
            try
            {
                process.Signal(SigKill);
                await process.WaitForExitAsync();
            }
            catch (Exception)
            {
            }
            Forget();
        }
        await Task.CompletedTask;
    }
}

/// <summary>A broadcast the server acknowledged with 200: what was sent and what the server answered.</summary>
internal sealed record Ack(string Content, long Sequence, string Timestamp);
