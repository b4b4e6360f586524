namespace EmitHub.Tests.Infrastructure;

/// <summary>
/// Tests that keep the process's thread pool busy on purpose (work items that queue themselves again): every other
/// test shares that pool and would slow down beside them. xunit runs a collection with <c>DisableParallelization</c>
/// after all the others, alone.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreadPoolSaturationCollection
{
    public const string Name = "Thread pool saturation (alone)";
}
