using BenchmarkDotNet.Running;

if (args.Length > 0 && args[0] == "compression-report")
{
    EmitHub.Benchmarks.CompressionReport.Run(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "idle-report")
{
    EmitHub.Benchmarks.IdleReport.Run(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "idle-server")
{
    await EmitHub.Benchmarks.IdleReport.ServerAsync(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "idle-clients")
{
    await EmitHub.Benchmarks.IdleReport.ClientsAsync(args[1..]);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

/// <summary>Entry point type for BenchmarkSwitcher.</summary>
public partial class Program;
