using System.Text.Json;
using System.Text.Json.Nodes;

namespace EmitHub.Tests.Infrastructure;

/// <summary>
/// One tab of a <see cref="ChromiumBrowser"/>: viewport, navigation, script evaluation, screenshots, and the page's
/// console output and uncaught exceptions (so a test can assert that a page's script ran without errors).
/// </summary>
public sealed class ChromiumPage : IAsyncDisposable
{
    private readonly List<string> _console = new();

    internal ChromiumPage(CdpSession session) => Session = session;

    /// <summary>The raw protocol session, for commands this class does not wrap.</summary>
    public CdpSession Session { get; }

    /// <summary>Console lines (<c>type: text</c>) and uncaught exceptions (<c>exception: text</c>) so far.</summary>
    public IReadOnlyList<string> ConsoleMessages
    {
        get { lock (_console) { return _console.ToArray(); } }
    }

    internal async Task InitializeAsync()
    {
        Session.EventReceived += OnEvent;
        await Session.SendAsync("Page.enable");
        await Session.SendAsync("Runtime.enable");
    }

    /// <summary>Emulates a viewport of <paramref name="width"/> × <paramref name="height"/> CSS pixels; with
    /// <paramref name="mobile"/> the page is laid out as on a phone (meta viewport honoured).</summary>
    public Task SetViewportAsync(int width, int height, bool mobile = false, double deviceScaleFactor = 1) =>
        Session.SendAsync("Emulation.setDeviceMetricsOverride", new JsonObject
        {
            ["width"] = width,
            ["height"] = height,
            ["deviceScaleFactor"] = deviceScaleFactor,
            ["mobile"] = mobile,
        });

    /// <summary>Navigates and waits for the <c>load</c> event.</summary>
    /// <exception cref="InvalidOperationException">The navigation failed (e.g. connection refused).</exception>
    public async Task NavigateAsync(string url)
    {
        var loaded = Session.WaitForEventAsync("Page.loadEventFired");
        var result = await Session.SendAsync("Page.navigate", new JsonObject { ["url"] = url });
        if (result.TryGetProperty("errorText", out var error) && error.GetString() is { Length: > 0 } text)
        {
            throw new InvalidOperationException($"Navigation to {url} failed: {text}");
        }
        await loaded;
    }

    /// <summary>Evaluates <paramref name="expression"/> in the page (promises awaited) and returns its JSON value.</summary>
    /// <exception cref="InvalidOperationException">The script threw.</exception>
    public async Task<JsonElement> EvaluateAsync(string expression)
    {
        var result = await Session.SendAsync("Runtime.evaluate", new JsonObject
        {
            ["expression"] = expression,
            ["returnByValue"] = true,
            ["awaitPromise"] = true,
        });
        if (result.TryGetProperty("exceptionDetails", out var exception))
        {
            throw new InvalidOperationException("Script failed: " + exception.GetRawText());
        }
        var remote = result.GetProperty("result");
        return remote.TryGetProperty("value", out var value) ? value : default;
    }

    /// <summary>Polls <paramref name="expression"/> until it is truthy (liveness bound <paramref name="timeout"/>,
    /// 30 s by default; not a timing assertion).</summary>
    /// <exception cref="TimeoutException">Still falsy at the deadline; the message holds the console output.</exception>
    public async Task WaitForAsync(string expression, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var value = await EvaluateAsync($"!!({expression})");
            if (value.ValueKind == JsonValueKind.True)
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"'{expression}' stayed false. Console:\n" + string.Join("\n", ConsoleMessages));
            }
            await Task.Delay(100);
        }
    }

    /// <summary>A PNG of the viewport, or with <paramref name="fullPage"/> of the whole document.</summary>
    public async Task<byte[]> ScreenshotAsync(bool fullPage = true)
    {
        var parameters = new JsonObject { ["format"] = "png" };
        if (fullPage)
        {
            var metrics = await Session.SendAsync("Page.getLayoutMetrics");
            var size = metrics.GetProperty("cssContentSize");
            parameters["captureBeyondViewport"] = true;
            parameters["clip"] = new JsonObject
            {
                ["x"] = 0,
                ["y"] = 0,
                ["width"] = size.GetProperty("width").GetDouble(),
                ["height"] = size.GetProperty("height").GetDouble(),
                ["scale"] = 1,
            };
        }
        var result = await Session.SendAsync("Page.captureScreenshot", parameters);
        return Convert.FromBase64String(result.GetProperty("data").GetString()!);
    }

    private void OnEvent(string method, JsonElement parameters)
    {
        string? line = method switch
        {
            "Runtime.consoleAPICalled" => parameters.GetProperty("type").GetString() + ": " + string.Join(" ",
                parameters.GetProperty("args").EnumerateArray().Select(a =>
                    a.TryGetProperty("value", out var v) ? v.ToString() : a.TryGetProperty("description", out var d) ? d.GetString() : a.GetRawText())),
            "Runtime.exceptionThrown" => "exception: " + (parameters.GetProperty("exceptionDetails").TryGetProperty("exception", out var ex)
                && ex.TryGetProperty("description", out var description) ? description.GetString() : parameters.GetRawText()),
            _ => null,
        };
        if (line != null)
        {
            lock (_console)
            {
                _console.Add(line);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await Session.SendAsync("Page.close");
        }
        catch (Exception)
        {
            // The browser may already be gone.
        }
        await Session.DisposeAsync();
    }
}
