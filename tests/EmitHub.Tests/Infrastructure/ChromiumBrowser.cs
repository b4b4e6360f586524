using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace EmitHub.Tests.Infrastructure;

/// <summary>
/// Debian's headless Chromium (<c>/usr/bin/chromium</c>, installed by <c>make test-deps</c>) driven over the Chrome
/// DevTools Protocol: one browser process per instance, with a throw-away profile and
/// <c>--remote-debugging-port=0</c>; the port is read from the profile's <c>DevToolsActivePort</c> file. Open pages
/// with <see cref="NewPageAsync"/> (<see cref="ChromiumPage"/>). No npm package and no browser download: the CDP
/// client is <see cref="System.Net.WebSockets.ClientWebSocket"/> (see <see cref="CdpSession"/>).
/// </summary>
/// <remarks>
/// Set <c>CHROMIUM_PATH</c> to use another binary. A missing browser is a test failure, never a skip: the Makefile
/// installs it.
/// </remarks>
public sealed class ChromiumBrowser : IAsyncDisposable
{
    /// <summary>Liveness bound for the browser to start and for each protocol answer (not a timing assertion).</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly string _profileDirectory;
    private readonly HttpClient _http;

    private ChromiumBrowser(Process process, string profileDirectory, int port)
    {
        _process = process;
        _profileDirectory = profileDirectory;
        DebuggingPort = port;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = StartTimeout };
    }

    /// <summary>The browser binary: <c>$CHROMIUM_PATH</c>, else <c>/usr/bin/chromium</c>.</summary>
    public static string ExecutablePath =>
        Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    /// <summary>The DevTools HTTP/WebSocket port the browser chose.</summary>
    public int DebuggingPort { get; }

    /// <summary>Starts a headless browser and waits until its DevTools endpoint answers.</summary>
    /// <exception cref="FileNotFoundException">The browser is not installed (run <c>make test-deps</c>).</exception>
    /// <exception cref="TimeoutException">The browser did not open its DevTools port within <see cref="StartTimeout"/>.</exception>
    public static async Task<ChromiumBrowser> LaunchAsync()
    {
        var executable = ExecutablePath;
        if (!File.Exists(executable))
        {
            throw new FileNotFoundException($"{executable} is missing: run 'make test-deps' (apt-get install chromium) or set CHROMIUM_PATH.", executable);
        }
        var profile = Directory.CreateTempSubdirectory("emithub-chromium-").FullName;
        var psi = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     "--headless=new",
                     // Tests run as root in containers, where Chromium's sandbox cannot start.
                     "--no-sandbox",
                     "--disable-gpu",
                     "--disable-dev-shm-usage",
                     "--no-first-run",
                     "--no-default-browser-check",
                     "--disable-extensions",
                     "--disable-background-networking",
                     "--hide-scrollbars",
                     "--remote-debugging-port=0",
                     "--remote-allow-origins=*",
                     "--user-data-dir=" + profile,
                     "about:blank",
                 })
        {
            psi.ArgumentList.Add(arg);
        }
        var process = Process.Start(psi) ?? throw new InvalidOperationException("chromium did not start");
        // Drain its chatter (dbus warnings) so a full pipe never blocks it.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var portFile = Path.Combine(profile, "DevToolsActivePort");
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"chromium exited with code {process.ExitCode} before opening its DevTools port.");
            }
            if (File.Exists(portFile) && await TryReadPortAsync(portFile) is int port)
            {
                return new ChromiumBrowser(process, profile, port);
            }
            if (DateTime.UtcNow > deadline)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"chromium did not write {portFile} within {StartTimeout.TotalSeconds:0} s.");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>Opens a new tab on <c>about:blank</c> and attaches a CDP session to it.</summary>
    public async Task<ChromiumPage> NewPageAsync()
    {
        // Chromium ≥ 111 wants PUT for /json/new.
        using var response = await _http.PutAsync("/json/new?about:blank", content: null);
        response.EnsureSuccessStatusCode();
        var target = await response.Content.ReadFromJsonAsync<JsonElement>();
        var url = target.GetProperty("webSocketDebuggerUrl").GetString()!;
        var session = await CdpSession.ConnectAsync(new Uri(url));
        var page = new ChromiumPage(session);
        await page.InitializeAsync();
        return page;
    }

    private static async Task<int?> TryReadPortAsync(string portFile)
    {
        try
        {
            var lines = await File.ReadAllLinesAsync(portFile);
            return lines.Length >= 1 && int.TryParse(lines[0], out var port) && port > 0 ? port : null;
        }
        catch (IOException)
        {
            return null; // being written
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
            }
        }
        catch (Exception)
        {
            // Already gone.
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_profileDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A child process may still hold a file for a moment; the temp directory is cleaned by the OS.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
