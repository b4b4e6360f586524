using BenchmarkDotNet.Running;

if (args.Length > 0 && args[0] == "compression-report")
{
    EmitHub.Benchmarks.CompressionReport.Run(args[1..]);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

/// <summary>Entry point type for BenchmarkSwitcher.</summary>
public partial class Program;
