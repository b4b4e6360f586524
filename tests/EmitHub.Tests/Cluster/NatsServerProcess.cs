using System.Diagnostics;
using System.Globalization;
using System.Text;
using EmitHub.Tests.Config;

namespace EmitHub.Tests.Cluster;

/// <summary>
/// A real <c>nats-server</c> with JetStream (<c>-js</c>) on a free port and a file store in a directory that
/// outlives the process, so it can be SIGKILLed and started again on the same store and port. Optionally one of a
/// NATS cluster (<c>--cluster</c>/<c>--routes</c>). Installed by the Makefile's <c>test-deps</c> (Debian package).
/// </summary>
internal sealed class NatsServerProcess : IDisposable
{
    private readonly StringBuilder _output = new();
    private readonly string _name;
    private readonly int? _clusterPort;
    private readonly IReadOnlyList<int> _routes;
    private Process? _process;

    public NatsServerProcess(string storeDirectory, string name = "n1", int? clusterPort = null, IReadOnlyList<int>? routes = null)
    {
        StoreDirectory = storeDirectory;
        _name = name;
        _clusterPort = clusterPort;
        _routes = routes ?? [];
        Port = EmitHubProcess.FreePort();
    }

    public int Port { get; }
    public string StoreDirectory { get; }
    public string Url => $"nats://127.0.0.1:{Port}";

    /// <summary>Everything the server printed so far (for failure messages).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Where the Debian package installs the server.</summary>
    public static string Executable =>
        File.Exists("/usr/sbin/nats-server") ? "/usr/sbin/nats-server"
        : File.Exists("/usr/bin/nats-server") ? "/usr/bin/nats-server"
        : throw new Xunit.Sdk.XunitException("nats-server is not installed; run `make test-deps` (Debian package nats-server).");

    /// <summary>Starts the server and waits until it accepts clients (and, in a cluster, until it is ready).</summary>
    public async Task StartAsync()
    {
        var arguments = new StringBuilder();
        arguments.Append(CultureInfo.InvariantCulture, $"-js -a 127.0.0.1 -p {Port} -sd {StoreDirectory} -n {_name}");
        if (_clusterPort is { } clusterPort)
        {
            arguments.Append(CultureInfo.InvariantCulture, $" --cluster_name emithub-test --cluster nats://127.0.0.1:{clusterPort}");
            arguments.Append(" --routes ").Append(string.Join(',', _routes.Select(p => $"nats://127.0.0.1:{p}")));
        }
        var info = new ProcessStartInfo(Executable, arguments.ToString())
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info };
        void OnLine(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is null)
            {
                return;
            }
            lock (_output)
            {
                _output.AppendLine(e.Data);
            }
            if (e.Data.Contains("Server is ready", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        }
        process.OutputDataReceived += OnLine;
        process.ErrorDataReceived += OnLine;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        try
        {
            await ready.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            throw new Xunit.Sdk.XunitException($"nats-server did not become ready:\n{Output}");
        }
    }

    /// <summary>SIGKILL: the server dies without a clean shutdown; its file store stays.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
        _process?.Dispose();
        _process = null;
    }

    public void Dispose()
    {
        try
        {
            if (_process is { HasExited: false } process)
            {
                process.Kill();
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process?.Dispose();
        _process = null;
    }
}
