using EmitHub.Tests.Storage;
using Xunit.Abstractions;

namespace EmitHub.Tests.Persistence;

/// <summary>
/// A damaged log tail through the real server (SPEC §5: "a torn tail is dropped with a warning, the server
/// starts"): after a SIGKILL the last segment file is cut short or its end zero-filled, as a crash during a
/// write or a filesystem that lost the tail would leave it.
/// </summary>
[Collection(PersistenceProcessCollection.Name)]
public sealed class TornTailTests : PersistenceTestBase
{
    private const int Written = 200;

    /// <summary>Bytes damaged at the end of the segment: several records of ~200 bytes (the end of the file is
    /// padding to a 512-byte sector, so damage must reach past it).</summary>
    private const int Damage = 1500;

    public TornTailTests(ITestOutputHelper output)
        : base(output)
    {
    }

    [Theory]
    [InlineData("cut")]
    [InlineData("zero-fill")]
    public async Task A_damaged_log_end_is_dropped_with_a_warning_and_the_server_serves_the_good_prefix(string damage)
    {
        await Server.StartAsync();
        var channel = await Server.CreateActiveChannelAsync("Turnos", persist: true);
        var burst = PublisherBurst.Start(Server.Http, channel, publishers: 4, perPublisher: Written / 4);
        await burst.Completion;
        Assert.All(burst.Endings, e => Assert.Equal("done", e));
        var acks = burst.Acks.Select(a => a.Ack).ToList();
        // Quiet before the kill, so the commit covers the whole file and the damage hits committed records.
        await Server.KillAsync();

        var segment = StoreTestSupport.LastSegmentFile(Server.DbPath);
        using (var file = new FileStream(segment, FileMode.Open))
        {
            Assert.True(file.Length > 4 * Damage, $"{segment} holds only {file.Length} bytes");
            if (damage == "cut")
            {
                file.SetLength(file.Length - Damage);
            }
            else
            {
                file.Position = file.Length - Damage;
                file.Write(new byte[Damage]);
            }
        }

        await Server.StartAsync();
        Assert.Contains(Server.Stdout.Split('\n'), line => line.Contains(" WARN ", StringComparison.Ordinal)
            && line.Contains("torn or corrupt log tail", StringComparison.Ordinal));
        var history = await Server.GetHistoryAsync(channel);
        var kept = history.Count;
        Assert.InRange(kept, Written - 20, Written - 1);
        AssertHistoryHoldsEveryAck(history, acks.Where(a => a.Sequence <= kept));
        var recovered = Assert.Single(await Server.ListChannelsAsync());
        Assert.Equal(channel, recovered.GetProperty("id").GetString());
        Assert.Equal("Active", recovered.GetProperty("status").GetString());

        // New broadcasts go after the last good record, and a further restart finds a clean log.
        var after = new List<Ack>();
        for (var i = 1; i <= 10; i++)
        {
            after.Add(await Server.BroadcastAsync(channel, $"after-{i}"));
        }
        Assert.Equal(Enumerable.Range(kept + 1, 10).Select(i => (long)i), after.Select(a => a.Sequence));
        Assert.Equal(0, await Server.StopAsync());

        await Server.StartAsync();
        Assert.DoesNotContain("torn or corrupt", Server.Stdout, StringComparison.Ordinal);
        var again = await Server.GetHistoryAsync(channel);
        Assert.Equal(kept + 10, AssertHistoryHoldsEveryAck(again, acks.Where(a => a.Sequence <= kept).Concat(after)));
        await Server.KillAsync();
    }
}
