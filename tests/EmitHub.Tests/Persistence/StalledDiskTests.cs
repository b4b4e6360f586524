using System.Diagnostics;
using System.Net;
using Xunit.Abstractions;

namespace EmitHub.Tests.Persistence;

/// <summary>
/// A persisting channel whose disk stops answering (the test hook <c>EMITHUB_TEST_STORE_STALL_FILE</c>: while the
/// file exists the store's FASTER device holds every write, so neither page flushes nor commits complete), through the
/// real server: other channels keep broadcasting, the persisting channel is refused with 503 + <c>Retry-After</c>
/// past its bound instead of queueing or spinning, and once the disk answers again every acknowledged message is
/// there with no sequence used by a refusal.
/// </summary>
[Collection(PersistenceProcessCollection.Name)]
public sealed class StalledDiskTests : PersistenceTestBase
{
    /// <summary>Generous bound for 20 broadcasts to an unaffected channel on a loaded 2-core box; a stall behind the
    /// disk would last until the commit timeout (30 s).</summary>
    private static readonly TimeSpan OtherChannelBound = TimeSpan.FromSeconds(15);

    public StalledDiskTests(ITestOutputHelper output)
        : base(output)
    {
    }

    private string StallFile => Path.Combine(Root, "stall");

    [Fact]
    public async Task Past_max_pending_messages_a_stalled_persisting_channel_gets_503_with_Retry_After_while_another_channel_keeps_broadcasting()
    {
        const int maxPending = 20;
        await Server.StartAsync(new Dictionary<string, string>
        {
            ["EMITHUB_TEST_STORE_STALL_FILE"] = StallFile,
            ["EMIT_HUB_MAX_PENDING_MESSAGES"] = maxPending.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        var stored = await Server.CreateActiveChannelAsync("Turnos", persist: true);
        var live = await Server.CreateActiveChannelAsync("Pantalla", persist: false);
        var before = new List<Ack>();
        for (var i = 1; i <= 5; i++)
        {
            before.Add(await Server.BroadcastAsync(stored, $"before-{i}"));
        }

        File.WriteAllText(StallFile, "");
        using var slow = new HttpClient { BaseAddress = Server.Http.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        var attempts = Enumerable.Range(1, 2 * maxPending).Select(i => SendAsync(slow, stored, $"stalled-{i}")).ToList();
        // The ones over the bound are refused at once, while the first maxPending wait for a commit that cannot come.
        var refused = new List<Outcome>();
        var deadline = Stopwatch.StartNew();
        while (refused.Count < maxPending && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.WhenAny(attempts.Where(a => !a.IsCompleted).DefaultIfEmpty(Task.FromResult<Outcome>(null!)).Append(Task.Delay(200)));
            refused = attempts.Where(a => a.IsCompletedSuccessfully).Select(a => a.Result).ToList();
        }
        Assert.Equal(maxPending, refused.Count);
        Assert.All(refused, r =>
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, r.Status);
            Assert.Contains("\"code\":\"store_busy\"", r.Body, StringComparison.Ordinal);
            Assert.Contains("max_pending_messages", r.Body, StringComparison.Ordinal);
            Assert.True(r.RetryAfter >= 1, $"Retry-After {r.RetryAfter}");
        });

        // The other channel is not held up by the stalled disk.
        var clock = Stopwatch.StartNew();
        for (var i = 1; i <= 20; i++)
        {
            var ack = await Server.BroadcastAsync(live, $"live-{i}");
            Assert.Equal(i, ack.Sequence);
        }
        Assert.True(clock.Elapsed < OtherChannelBound, $"20 broadcasts to a non-persisting channel took {clock.Elapsed} while another channel's disk stalled");
        Assert.All(attempts.Where(a => a.IsCompleted), a => Assert.Equal(HttpStatusCode.ServiceUnavailable, a.Result.Status));

        // The disk answers again: every message that was waiting is committed and acknowledged, in order after 5.
        File.Delete(StallFile);
        var outcomes = await Task.WhenAll(attempts);
        var acks = outcomes.Where(o => o.Status == HttpStatusCode.OK).Select(o => o.Ack!).OrderBy(a => a.Sequence).ToList();
        Assert.Equal(maxPending, acks.Count);
        Assert.Equal(Enumerable.Range(6, maxPending).Select(i => (long)i), acks.Select(a => a.Sequence));
        var history = await Server.GetHistoryAsync(stored);
        AssertHistoryHoldsEveryAck(history, before.Concat(acks));
        Assert.Equal(5 + maxPending, history.Count);
        Assert.Equal(5 + maxPending + 1, (await Server.BroadcastAsync(stored, "after")).Sequence);
        Assert.Equal(0, await Server.StopAsync());
    }

    [Fact]
    public async Task A_stalled_disk_that_fills_the_in_memory_log_gets_503_store_busy_instead_of_spinning_under_the_locks()
    {
        await Server.StartAsync(new Dictionary<string, string> { ["EMITHUB_TEST_STORE_STALL_FILE"] = StallFile });
        var stored = await Server.CreateActiveChannelAsync("Turnos", persist: true);
        var live = await Server.CreateActiveChannelAsync("Pantalla", persist: false);
        Assert.Equal(1, (await Server.BroadcastAsync(stored, "before")).Sequence);

        File.WriteAllText(StallFile, "");
        // 1 MB envelopes: FASTER's in-memory log (32 MiB) fills after about 30 of them once no page can be written.
        var big = new string('x', 1_000_000);
        using var slow = new HttpClient { BaseAddress = Server.Http.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        var attempts = new List<Task<Outcome>>();
        Outcome? refusal = null;
        for (var i = 0; i < 60 && refusal is null; i++)
        {
            attempts.Add(SendAsync(slow, stored, big));
            // One at a time until the first refusal: each waits for its commit, so only the refusal completes.
            await Task.WhenAny(attempts[^1], Task.Delay(300));
            refusal = attempts.FirstOrDefault(a => a.IsCompletedSuccessfully)?.Result;
        }
        Assert.NotNull(refusal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refusal!.Status);
        Assert.Contains("\"code\":\"store_busy\"", refusal.Body, StringComparison.Ordinal);
        Assert.Contains("in-memory log is full", refusal.Body, StringComparison.Ordinal);
        Assert.True(refusal.RetryAfter >= 1);

        var clock = Stopwatch.StartNew();
        for (var i = 1; i <= 20; i++)
        {
            Assert.Equal(i, (await Server.BroadcastAsync(live, $"live-{i}")).Sequence);
        }
        Assert.True(clock.Elapsed < OtherChannelBound, $"20 broadcasts to a non-persisting channel took {clock.Elapsed} while another channel's disk stalled");

        File.Delete(StallFile);
        var outcomes = await Task.WhenAll(attempts);
        var accepted = outcomes.Where(o => o.Status == HttpStatusCode.OK).Select(o => o.Ack!.Sequence).Order().ToList();
        Assert.Equal(Enumerable.Range(2, accepted.Count).Select(i => (long)i), accepted);
        Assert.Equal(accepted.Count + 1, (await Server.GetHistoryAsync(stored)).Count);
        Assert.Equal(accepted.Count + 2, (await Server.BroadcastAsync(stored, "after")).Sequence);
        Assert.Equal(0, await Server.StopAsync());
    }

    private sealed record Outcome(HttpStatusCode Status, Ack? Ack, string Body, int RetryAfter);

    private static async Task<Outcome> SendAsync(HttpClient http, string channel, string content)
    {
        using var response = await http.PostAsync($"/api/v1/channels/{channel}/broadcast",
            ServerProcess.Json($$"""{"content":"{{content}}"}"""));
        var body = await response.Content.ReadAsStringAsync();
        var retryAfter = response.Headers.RetryAfter?.Delta is { } delta ? (int)delta.TotalSeconds : 0;
        Ack? ack = null;
        if (response.StatusCode == HttpStatusCode.OK)
        {
            var json = ServerProcess.Parse(body);
            ack = new Ack(content.Length > 64 ? "big" : content, json.GetProperty("sequence").GetInt64(), json.GetProperty("timestamp").GetString()!);
        }
        return new Outcome(response.StatusCode, ack, body, retryAfter);
    }
}
