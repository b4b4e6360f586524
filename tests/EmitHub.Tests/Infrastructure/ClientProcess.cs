using System.Diagnostics;
using System.Text;

namespace EmitHub.Tests.Infrastructure;

/// <summary>
/// A third-party client (the seed's Python or JavaScript example) run as a child process; its stdout lines are
/// collected so a test can wait for what the seed's handlers print.
/// </summary>
public sealed class ClientProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly SemaphoreSlim _changed = new(0);

    private ClientProcess(Process process) => _process = process;

    /// <summary>The repository's <c>tests/clients</c> folder (found from the test assembly's directory).</summary>
    public static string ClientsDirectory
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "tests", "clients");
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
            throw new DirectoryNotFoundException("tests/clients not found above " + AppContext.BaseDirectory);
        }
    }

    public string Output
    {
        get { lock (_output) { return _output.ToString(); } }
    }

    public static ClientProcess Start(string fileName, params string[] args) => Start(null, fileName, args);

    /// <summary>Starts <paramref name="fileName"/> with extra environment variables (e.g. <c>SSL_CERT_FILE</c>).</summary>
    public static ClientProcess Start(IReadOnlyDictionary<string, string>? environment, string fileName, params string[] args)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = ClientsDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            UseShellExecute = false,
        };
        psi.Environment["PYTHONIOENCODING"] = "utf-8";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[name] = value;
        }
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }
        var process = new Process { StartInfo = psi };
        var client = new ClientProcess(process);
        process.OutputDataReceived += (_, e) => client.Append(e.Data);
        process.ErrorDataReceived += (_, e) => client.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return client;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
        _changed.Release();
    }

    /// <summary>Waits until the output contains <paramref name="text"/> (liveness bound 30 s, not a timing assertion).</summary>
    public async Task WaitForAsync(string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || _process.HasExited && !Output.Contains(text, StringComparison.Ordinal) && !await _changed.WaitAsync(200))
            {
                Assert.Fail($"'{text}' never appeared. Output so far:\n{Output}");
            }
            await _changed.WaitAsync(left > TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : left);
        }
    }

    public async Task<int> WaitForExitAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }
}
