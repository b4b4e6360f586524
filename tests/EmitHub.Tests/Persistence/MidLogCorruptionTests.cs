using System.Net;
using System.Text;
using System.Text.Json;
using EmitHub.Tests.Config;
using EmitHub.Tests.Storage;
using Xunit.Abstractions;

namespace EmitHub.Tests.Persistence;

/// <summary>
/// Damage inside committed data in the middle of the log, through the real server (issue 9): one flipped byte in a
/// committed record (bit rot), or a whole 4 KiB disk page zeroed. Unlike a torn tail, verifying records follow the
/// damage: they must all come back, the lost sequences must never be handed out again, a client resuming across
/// them must get <c>recovered:false</c>, and the ERROR log and <c>/ready</c> must name the loss (channel, range).
/// </summary>
[Collection(PersistenceProcessCollection.Name)]
public sealed class MidLogCorruptionTests : PersistenceTestBase
{
    public MidLogCorruptionTests(ITestOutputHelper output)
        : base(output)
    {
    }

    [Fact]
    public async Task One_flipped_byte_in_a_committed_record_mid_log_loses_only_that_record_and_its_sequence_is_never_reused()
    {
        const int written = 120;
        var (channel, acks) = await WriteAndKillAsync(written);
        var victim = acks.Single(a => a.Sequence == 50);

        // Flip one byte inside the envelope of sequence 50 (its content is unique in the file).
        var segment = StoreTestSupport.LastSegmentFile(Server.DbPath);
        var bytes = await File.ReadAllBytesAsync(segment);
        var at = IndexOf(bytes, Encoding.UTF8.GetBytes($"\"message\":\"{victim.Content}\""));
        Assert.True(at > 0, "the record of sequence 50 was not found in the segment");
        bytes[at + 12] ^= 0x01;
        await File.WriteAllBytesAsync(segment, bytes);

        await Server.StartAsync();
        await AssertLossReportedAsync(channel, 50, 50);
        var history = await Server.GetHistoryAsync(channel);
        Assert.Equal(Enumerable.Range(1, written).Where(i => i != 50).Select(i => (long)i), history.Select(h => h.GetProperty("sequence").GetInt64()));
        AssertHoldsAcks(history, acks.Where(a => a.Sequence != 50));
        await AssertResumeAsync(channel, after: 40, expectRecovered: false);
        await AssertResumeAsync(channel, after: 60, expectRecovered: true);
        Assert.Equal(written + 1, (await Server.BroadcastAsync(channel, "after-1")).Sequence);

        // The gap is durable: a clean restart reports no new damage but still refuses the lost sequence.
        Assert.Equal(0, await Server.StopAsync());
        await Server.StartAsync();
        Assert.DoesNotContain(" ERROR ", Server.Stdout, StringComparison.Ordinal);
        Assert.Equal("ready", await ReadyStatusAsync());
        await AssertResumeAsync(channel, after: 40, expectRecovered: false);
        Assert.Equal(written, (await Server.GetHistoryAsync(channel)).Count);
        Assert.Equal(written + 2, (await Server.BroadcastAsync(channel, "after-2")).Sequence);
        await Server.KillAsync();
    }

    [Fact]
    public async Task A_zeroed_disk_page_mid_log_loses_only_the_records_it_held_and_every_later_record_is_kept()
    {
        const int written = 400;
        var (channel, acks) = await WriteAndKillAsync(written);

        var segment = StoreTestSupport.LastSegmentFile(Server.DbPath);
        using (var file = new FileStream(segment, FileMode.Open))
        {
            Assert.True(file.Length > 2 * 32768 + 4096, $"{segment} holds only {file.Length} bytes");
            file.Position = 32768;
            file.Write(new byte[4096]);
        }

        await Server.StartAsync();
        var history = await Server.GetHistoryAsync(channel);
        var kept = history.Select(h => h.GetProperty("sequence").GetInt64()).ToHashSet();
        var lost = Enumerable.Range(1, written).Select(i => (long)i).Where(i => !kept.Contains(i)).ToList();
        // A 4 KiB page holds about 15 records of ~250 bytes; the lost ones are one contiguous run in the middle.
        Assert.InRange(lost.Count, 10, 25);
        Assert.Equal(Enumerable.Range((int)lost[0], lost.Count).Select(i => (long)i), lost);
        Assert.True(lost[0] > 50 && lost[^1] < written - 50, $"lost {lost[0]}..{lost[^1]}");
        AssertHoldsAcks(history, acks.Where(a => kept.Contains(a.Sequence)));
        await AssertLossReportedAsync(channel, lost[0], lost[^1]);
        await AssertResumeAsync(channel, after: lost[0] - 5, expectRecovered: false);
        await AssertResumeAsync(channel, after: lost[^1] + 5, expectRecovered: true);
        Assert.Equal(written + 1, (await Server.BroadcastAsync(channel, "after-1")).Sequence);
        await Server.KillAsync();
    }

    [Fact]
    public async Task A_damaged_channel_record_mid_log_refuses_to_start_with_a_sentence_naming_recover_skip_corrupt_which_then_starts()
    {
        const int written = 40;
        var (channel, acks) = await WriteAndKillAsync(written);

        // The channel's creation record (its name appears first there) loses a bit: a status or settings change
        // could be lost the same way, which recovery cannot account for.
        var segment = StoreTestSupport.LastSegmentFile(Server.DbPath);
        var bytes = await File.ReadAllBytesAsync(segment);
        var at = IndexOf(bytes, "Turnos"u8.ToArray());
        Assert.True(at > 0);
        bytes[at] ^= 0x01;
        await File.WriteAllBytesAsync(segment, bytes);

        var env = new Dictionary<string, string>
        {
            ["EMIT_HUB_PORT"] = EmitHubProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["EMIT_HUB_DB_PATH"] = Server.DbPath,
        };
        using (var refused = EmitHubProcess.Start(Server.WorkingDirectory, env))
        {
            Assert.NotEqual(0, await refused.WaitForExitAsync());
            Assert.Contains("recovery cannot be trusted", refused.Stderr, StringComparison.Ordinal);
            Assert.Contains("--recover-skip-corrupt", refused.Stderr, StringComparison.Ordinal);
        }

        await Server.StartAsync(null, null, "--recover-skip-corrupt");
        Assert.Contains(Server.Stdout.Split('\n'), line => line.Contains(" ERROR ", StringComparison.Ordinal)
            && line.Contains("--recover-skip-corrupt", StringComparison.Ordinal));
        // The start record (a full copy of the channel) survived, and so did every message.
        var history = await Server.GetHistoryAsync(channel);
        AssertHoldsAcks(history, acks);
        Assert.Equal(written + 1, (await Server.BroadcastAsync(channel, "after")).Sequence);
        await Server.KillAsync();
    }

    private async Task<(string Channel, List<Ack> Acks)> WriteAndKillAsync(int count)
    {
        await Server.StartAsync();
        var channel = await Server.CreateActiveChannelAsync("Turnos", persist: true);
        var burst = PublisherBurst.Start(Server.Http, channel, publishers: 4, perPublisher: count / 4, prefix: "turno-");
        await burst.Completion;
        Assert.All(burst.Endings, e => Assert.Equal("done", e));
        var acks = burst.Acks.Select(a => a.Ack).OrderBy(a => a.Sequence).ToList();
        Assert.Equal(Enumerable.Range(1, count).Select(i => (long)i), acks.Select(a => a.Sequence));
        // Quiet before the kill: everything acknowledged is committed.
        await Server.KillAsync();
        return (channel, acks);
    }

    private async Task AssertLossReportedAsync(string channel, long first, long last)
    {
        var range = $"lost messages {first}..{last}";
        Assert.Contains(Server.Stdout.Split('\n'), line => line.Contains(" ERROR ", StringComparison.Ordinal)
            && line.Contains(channel, StringComparison.Ordinal) && line.Contains(range, StringComparison.Ordinal));
        Assert.DoesNotContain("torn or corrupt log tail", Server.Stdout, StringComparison.Ordinal);
        using var response = await Server.Http.GetAsync("/ready");
        var body = ServerProcess.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("degraded", body.GetProperty("status").GetString());
        Assert.Equal("data_loss", body.GetProperty("checks").GetProperty("database").GetString());
        Assert.Contains(body.GetProperty("losses").EnumerateArray(), l => l.GetString()!.Contains(channel, StringComparison.Ordinal)
            && l.GetString()!.Contains(range, StringComparison.Ordinal));
    }

    private async Task<string?> ReadyStatusAsync()
    {
        using var response = await Server.Http.GetAsync("/ready");
        return ServerProcess.Parse(await response.Content.ReadAsStringAsync()).GetProperty("status").GetString();
    }

    private async Task AssertResumeAsync(string channel, long after, bool expectRecovered)
    {
        using var ws = await Server.ConnectAsync(channel, $"?after={after}");
        var connected = await ServerProcess.ReceiveAsync(ws);
        Assert.Equal("connected", connected.GetProperty("status").GetString());
        Assert.Equal(expectRecovered, connected.GetProperty("data").GetProperty("recovered").GetBoolean());
    }

    private static void AssertHoldsAcks(IReadOnlyList<JsonElement> history, IEnumerable<Ack> acks)
    {
        var bySequence = history.ToDictionary(h => h.GetProperty("sequence").GetInt64());
        foreach (var ack in acks)
        {
            Assert.True(bySequence.TryGetValue(ack.Sequence, out var envelope), $"acknowledged sequence {ack.Sequence} is missing");
            Assert.Equal(ack.Content, envelope.GetProperty("message").GetString());
            Assert.Equal(ack.Timestamp, envelope.GetProperty("timestamp").GetString());
        }
    }

    private static int IndexOf(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle);
}
