using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;

namespace EmitHub.Tests.Config;

/// <summary>
/// The built <c>emit-hub</c> run as a child process (<c>dotnet emit-hub.dll</c> from the test's output directory),
/// with no inherited <c>EMIT_HUB_*</c> variables. Output lines are collected as they arrive.
/// </summary>
internal sealed partial class EmitHubProcess : IDisposable
{
    /// <summary>Upper bound for the process to start or stop; a liveness bound, not a timed assertion.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private EmitHubProcess(Process process)
    {
        _process = process;
    }

    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "emit-hub.dll");

    public int Id => _process.Id;

    public string Stdout
    {
        get { lock (_stdout) { return _stdout.ToString(); } }
    }

    public string Stderr
    {
        get { lock (_stderr) { return _stderr.ToString(); } }
    }

    public static EmitHubProcess Start(string workingDirectory, IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        var dotnet = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var psi = new ProcessStartInfo(dotnet)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(DllPath);
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }
        foreach (var name in psi.Environment.Keys.Where(k => k.StartsWith("EMIT_HUB_", StringComparison.Ordinal)).ToList())
        {
            psi.Environment.Remove(name);
        }
        if (env is not null)
        {
            foreach (var (name, value) in env)
            {
                psi.Environment[name] = value;
            }
        }

        var process = new Process { StartInfo = psi };
        var result = new EmitHubProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                result._stdoutClosed.TrySetResult();
                result._lines.Writer.TryComplete();
                return;
            }
            lock (result._stdout)
            {
                result._stdout.Append(e.Data).Append('\n');
            }
            result._lines.Writer.TryWrite(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                result._stderrClosed.TrySetResult();
                return;
            }
            lock (result._stderr)
            {
                result._stderr.Append(e.Data).Append('\n');
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return result;
    }

    /// <summary>Runs to completion and returns the exit code.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string workingDirectory,
        IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        using var process = Start(workingDirectory, env, args);
        var code = await process.WaitForExitAsync();
        return (code, process.Stdout, process.Stderr);
    }

    /// <summary>Waits for a stdout line containing <paramref name="text"/>; fails if the process ends first.</summary>
    public async Task<string> WaitForLineAsync(string text)
    {
        using var cts = new CancellationTokenSource(Patience);
        try
        {
            await foreach (var line in _lines.Reader.ReadAllAsync(cts.Token))
            {
                if (line.Contains(text, StringComparison.Ordinal))
                {
                    return line;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        throw new Xunit.Sdk.XunitException($"emit-hub never printed \"{text}\".\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
    }

    /// <summary>Sends a POSIX signal (SIGTERM = 15, SIGINT = 2).</summary>
    public void Signal(int signal)
    {
        // A reaped process's id may already belong to another test's server: never signal a process that ended.
        if (_process.HasExited)
        {
            throw new InvalidOperationException($"emit-hub (pid {_process.Id}) already exited with {_process.ExitCode}.\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
        }
        if (Kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public async Task<int> WaitForExitAsync()
    {
        using var cts = new CancellationTokenSource(Patience);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            await Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task).WaitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"emit-hub did not exit.\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
        }
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
            // Never started or already reaped.
        }
        _process.Dispose();
    }

    private static readonly HashSet<int> s_handedOut = [];

    /// <summary>A port that was free a moment ago on 127.0.0.1 (the server refuses port 0 by the SPEC), and that no
    /// earlier call in this test run returned: the kernel may give the same just-released port to two calls in a row,
    /// and two cluster nodes started together then fought over it.</summary>
    public static int FreePort()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            lock (s_handedOut)
            {
                if (s_handedOut.Add(port))
                {
                    return port;
                }
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
