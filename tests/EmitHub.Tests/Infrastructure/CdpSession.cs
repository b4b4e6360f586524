using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EmitHub.Tests.Infrastructure;

/// <summary>
/// A minimal Chrome DevTools Protocol client over one WebSocket: commands are
/// <c>{"id", "method", "params"}</c> answered by <c>{"id", "result"}</c> or <c>{"id", "error"}</c>; everything
/// without an id is an event <c>{"method", "params"}</c>, delivered to <see cref="EventReceived"/> and to
/// <see cref="WaitForEventAsync"/> waiters.
/// </summary>
public sealed class CdpSession : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly List<(string Method, Func<JsonElement, bool> Match, TaskCompletionSource<JsonElement> Done)> _waiters = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _receiveLoop;
    private int _nextId;

    private CdpSession(ClientWebSocket socket)
    {
        _socket = socket;
        _receiveLoop = Task.Run(ReceiveLoopAsync);
    }

    /// <summary>Every event, on the receive loop's thread (keep handlers short).</summary>
    public event Action<string, JsonElement>? EventReceived;

    /// <summary>Connects to a target's <c>webSocketDebuggerUrl</c>.</summary>
    public static async Task<CdpSession> ConnectAsync(Uri url)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        using var timeout = new CancellationTokenSource(ChromiumBrowser.StartTimeout);
        await socket.ConnectAsync(url, timeout.Token);
        return new CdpSession(socket);
    }

    /// <summary>Sends a command and returns its <c>result</c>.</summary>
    /// <exception cref="InvalidOperationException">The browser answered with an <c>error</c>.</exception>
    public async Task<JsonElement> SendAsync(string method, JsonObject? parameters = null)
    {
        var id = Interlocked.Increment(ref _nextId);
        var done = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = done;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
        var bytes = Encoding.UTF8.GetBytes(message.ToJsonString());
        await _sendLock.WaitAsync();
        try
        {
            await _socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, _stop.Token);
        }
        finally
        {
            _sendLock.Release();
        }
        return await done.Task.WaitAsync(ChromiumBrowser.StartTimeout);
    }

    /// <summary>Registers a waiter for the next event named <paramref name="method"/> whose params match; register it
    /// before sending the command that causes the event.</summary>
    public Task<JsonElement> WaitForEventAsync(string method, Func<JsonElement, bool>? match = null)
    {
        var done = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiters)
        {
            _waiters.Add((method, match ?? (_ => true), done));
        }
        return done.Task.WaitAsync(ChromiumBrowser.StartTimeout);
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var result = await _socket.ReceiveAsync(buffer, _stop.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage)
                {
                    continue;
                }
                Dispatch(JsonDocument.Parse(message.ToArray()).RootElement.Clone());
                message.SetLength(0);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
        }
        foreach (var pending in _pending.Values)
        {
            pending.TrySetException(new InvalidOperationException("The DevTools connection closed."));
        }
    }

    private void Dispatch(JsonElement root)
    {
        if (root.TryGetProperty("id", out var idElement))
        {
            if (_pending.TryRemove(idElement.GetInt32(), out var done))
            {
                if (root.TryGetProperty("error", out var error))
                {
                    done.TrySetException(new InvalidOperationException("CDP error: " + error.GetRawText()));
                }
                else
                {
                    done.TrySetResult(root.TryGetProperty("result", out var result) ? result : default);
                }
            }
            return;
        }
        var method = root.GetProperty("method").GetString()!;
        var parameters = root.TryGetProperty("params", out var p) ? p : default;
        EventReceived?.Invoke(method, parameters);
        lock (_waiters)
        {
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                var waiter = _waiters[i];
                if (waiter.Method == method && waiter.Match(parameters))
                {
                    waiter.Done.TrySetResult(parameters);
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try
        {
            await _receiveLoop.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception)
        {
        }
        _socket.Dispose();
        _stop.Dispose();
    }
}
