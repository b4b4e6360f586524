using System.Diagnostics;

namespace EmitHub.Tests.Infrastructure;

/// <summary>
/// A command run to its end (make, promtool, curl): both streams read while it runs, optional stdin, and a liveness
/// bound (not a timing assertion). For the built <c>emit-hub</c> see <c>EmitHubProcess</c>; for a client whose output
/// is awaited line by line see <see cref="ClientProcess"/>.
/// </summary>
internal static class ProcessRun
{
    /// <summary>Runs <paramref name="file"/> with <paramref name="args"/>; <paramref name="configure"/> may set the
    /// working directory, environment or encodings first.</summary>
    public static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string file, IEnumerable<string> args,
        TimeSpan timeout, string? stdin = null, Action<ProcessStartInfo>? configure = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = stdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }
        configure?.Invoke(psi);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }
        using var cts = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
