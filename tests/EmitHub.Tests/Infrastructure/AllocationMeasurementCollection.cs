namespace EmitHub.Tests.Infrastructure;

/// <summary>
/// Tests that measure the process's allocations (<see cref="GC.GetTotalAllocatedBytes(bool)"/>) while the server
/// handles one request: the count is process-wide, so any test running at the same time adds to it (measured: a
/// parallel test allocating in a loop made the deflate bomb test count 63 MB and 6.7 GB against its 16 MiB bound).
/// xunit runs a collection with <c>DisableParallelization</c> after all the others, alone, so what is counted is the
/// server's work.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationMeasurementCollection
{
    public const string Name = "Allocation measurements (alone)";
}
