using System.Text.Json;
using EmitHub.Tests.Storage;
using Xunit.Abstractions;

namespace EmitHub.Tests.Persistence;

/// <summary>
/// Every test that starts real emit-hub processes (persistence, CLI, startup failures) runs in this collection,
/// one at a time: each starts, signals and kills servers by process id, and several at once on a shared 2-core box
/// would only add noise and the risk of a signal meeting a reused process id.
/// </summary>
[CollectionDefinition(Name)]
public sealed class PersistenceProcessCollection
{
    public const string Name = "Persistence processes";
}

/// <summary>A temporary directory per test: <c>db/</c> is the server's <c>db_path</c>, the directory itself its
/// working directory. The server is SIGKILLed if a test leaves it running.</summary>
public abstract class PersistenceTestBase : IAsyncLifetime
{
    private readonly TempStoreDirectory _dir = new();
    private readonly ITestOutputHelper _output;

    private protected PersistenceTestBase(ITestOutputHelper output)
    {
        _output = output;
        Directory.CreateDirectory(_dir.Path);
        Server = new ServerProcess(Path.Combine(_dir.Path, "db"), _dir.Path);
    }

    private protected ServerProcess Server { get; }

    private protected string Root => _dir.Path;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        // Shown by the runner for a failed test: what every server process of the test printed.
        _output.WriteLine(Server.History.ToString());
        _dir.Dispose();
    }

    /// <summary>
    /// History has sequences 1..n with no gap or duplicate, every acknowledged broadcast sits at its sequence with
    /// its content and timestamp, and n covers the highest acknowledged sequence. Returns n.
    /// </summary>
    private protected static long AssertHistoryHoldsEveryAck(IReadOnlyList<JsonElement> history, IEnumerable<Ack> acks, long first = 1)
    {
        for (var i = 0; i < history.Count; i++)
        {
            var envelope = history[i];
            Assert.Equal(first + i, envelope.GetProperty("sequence").GetInt64());
            Assert.Equal("broadcast", envelope.GetProperty("status").GetString());
        }
        var last = first + history.Count - 1;
        foreach (var ack in acks)
        {
            Assert.True(ack.Sequence >= first && ack.Sequence <= last,
                $"acknowledged sequence {ack.Sequence} ({ack.Content}) is not in history {first}..{last}");
            var envelope = history[(int)(ack.Sequence - first)];
            Assert.Equal(ack.Content, envelope.GetProperty("message").GetString());
            Assert.Equal(ack.Timestamp, envelope.GetProperty("timestamp").GetString());
        }
        return last;
    }

    /// <summary>Same channels in the same order: ids, names, descriptions, status, timestamps and settings.</summary>
    private protected static void AssertSameChannels(IReadOnlyList<JsonElement> expected, IReadOnlyList<JsonElement> actual)
    {
        Assert.Equal(expected.Select(c => c.GetProperty("id").GetString()), actual.Select(c => c.GetProperty("id").GetString()));
        for (var i = 0; i < expected.Count; i++)
        {
            foreach (var field in new[] { "name", "description", "status", "created_at", "updated_at", "settings" })
            {
                Assert.True(expected[i].GetProperty(field).GetRawText() == actual[i].GetProperty(field).GetRawText(),
                    $"channel {expected[i].GetProperty("id")} {field}: {expected[i].GetProperty(field).GetRawText()} before, {actual[i].GetProperty(field).GetRawText()} after");
            }
        }
    }
}
