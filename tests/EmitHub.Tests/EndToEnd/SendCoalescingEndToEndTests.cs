using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.EndToEnd;

/// <summary>
/// <c>[websocket] coalesce_window_ms</c> end to end (issue 10): broadcasts that arrive within one window of the
/// previous send leave in a few gathered sends, every message arrives once and in order, and a connection that was
/// quiet longer than the window gets its next message without waiting for a tick.
/// </summary>
public class SendCoalescingEndToEndTests
{
    private const int WindowMs = 1000;

    [Fact]
    public async Task Broadcasts_within_a_window_leave_in_a_few_sends_complete_and_in_order()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.WebSocket.CoalesceWindowMs = WindowMs);
        var id = await hub.CreateActiveChannelAsync();
        var (client, accepted) = await hub.ConnectAcceptedAsync(id);
        using var _ = client;
        Assert.Equal(1, await accepted.SendsAfterAsync(1));

        // Quiet for longer than the window: the first broadcast is sent at once (no tick to wait for).
        await Task.Delay(WindowMs + 100);
        await hub.BroadcastAsync(id, "first");
        var first = await client.ReceiveEnvelopeAsync(5);
        Assert.Equal(1, first!.Value.GetProperty("sequence").GetInt64());
        Assert.Equal(2, await accepted.SendsAfterAsync(2));

        // 20 broadcasts a few milliseconds apart: at most one send per window they span (plus the one a tick may
        // split), however slowly this box runs the loop, and far fewer than 20.
        var loop = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 2; i <= 21; i++)
        {
            await hub.BroadcastAsync(id, $"m{i}");
            await Task.Delay(3);
        }
        var elapsedMs = loop.Elapsed.TotalMilliseconds;
        var sequences = new List<long>();
        while (sequences.Count < 20)
        {
            var envelope = await client.ReceiveEnvelopeAsync(5);
            Assert.True(envelope.HasValue, $"closed after {sequences.Count}");
            sequences.Add(envelope!.Value.GetProperty("sequence").GetInt64());
        }
        Assert.Equal(Enumerable.Range(2, 20).Select(i => (long)i), sequences);
        var sends = await accepted.SendsAfterAsync(3) - 2;
        Assert.True(sends >= 1 && sends <= (int)(elapsedMs / WindowMs) + 2 && sends < 20,
            $"{sends} sends for 20 broadcasts over {elapsedMs:F0} ms with a {WindowMs} ms window");
    }
}
