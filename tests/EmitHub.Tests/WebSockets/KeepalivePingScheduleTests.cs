using System.Buffers.Binary;
using System.Text;
using EmitHub.Net.WebSockets;
using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace EmitHub.Tests.WebSockets;

/// <summary>
/// When the heartbeat sends keepalive pings (SPEC §4, <c>ping_interval</c>), on a fake clock: the heartbeat's timer
/// ticks on whole seconds after the server started, and extra ticks (<see cref="EmitHub.Net.Transport.Heartbeat.Tick"/>)
/// stand for a timer that fires late. Each keepalive ping carries the heartbeat's timestamp (8 bytes, big-endian),
/// which is how these tests read when it was sent.
/// </summary>
public sealed class KeepalivePingScheduleTests
{
    private static readonly DateTimeOffset s_start = DateTimeOffset.Parse("2026-12-05T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

    // Bug: the next ping was due ping_interval after the tick that saw the last one, not after it fell due, so every
    // late tick pushed the schedule back: with a 1 s heartbeat the effective interval was up to ping_interval + 1 s.
    [Fact]
    public async Task Pings_fall_due_every_ping_interval_from_the_connection_start_not_from_the_tick_that_sent_the_last()
    {
        var time = new FakeTimeProvider(s_start);
        await using var hub = await TestHubServer.StartAsync(o => o.WebSocket.PingInterval = 2, time);
        var id = await hub.CreateActiveChannelAsync();
        var origin = time.GetTimestamp();
        time.Advance(TimeSpan.FromSeconds(0.5));
        using var client = await RawWebSocketClient.ConnectAsync(hub.EndPoint, $"/api/v1/channels/{id}/ws");
        Assert.StartsWith("text:{\"status\":\"connected\"", (await client.ReadEventsAsync(e => e.Count == 1))[0]);

        // Opened at 0.5 s: pings due at 2.5, 4.5, 6.5, 8.5 s. Timer ticks on whole seconds; one extra tick at 4.6 s.
        var sent = new List<double>();
        foreach (var at in new[] { 1.0, 2.0, 3.0, 4.0, 4.6, 5.0, 6.0, 7.0, 8.0, 9.0 })
        {
            var step = TimeSpan.FromSeconds(at) - (time.GetUtcNow() - s_start);
            time.Advance(step);
            if (at % 1 != 0)
            {
                hub.Server.Heartbeat.Tick();
            }
            sent.AddRange(await AnswerPingsAsync(client, time, origin));
        }

        // The ping due at 2.5 s goes at the 3 s tick; the next is still due at 4.5 s, so the 4.6 s tick sends it
        // (before: due 2 s after the 3 s tick, so it waited for the 5 s tick).
        Assert.Equal([3.0, 4.6, 7.0, 9.0], sent);
    }

    // A message left unfinished (a first fragment, no FIN) is failed 1008 at connection_timeout; a keepalive ping that
    // fell due by then still goes out first. Before, the message deadline was checked first and returned, so the tick
    // that saw both closed the connection with no ping at all.
    [Fact]
    public async Task A_connection_with_an_unfinished_message_gets_its_due_ping_before_the_1008_close()
    {
        var time = new FakeTimeProvider(s_start);
        await using var hub = await TestHubServer.StartAsync(o =>
        {
            o.WebSocket.PingInterval = 2;
            o.WebSocket.ConnectionTimeout = 2;
        }, time);
        var id = await hub.CreateActiveChannelAsync();
        var origin = time.GetTimestamp();
        time.Advance(TimeSpan.FromSeconds(0.5));
        using var client = await RawWebSocketClient.ConnectAsync(hub.EndPoint, $"/api/v1/channels/{id}/ws");
        Assert.StartsWith("text:{\"status\":\"connected\"", (await client.ReadEventsAsync(e => e.Count == 1))[0]);
        // At 0.5 s, like the connection: FIN=0 TEXT "abc". The ping round trip after it proves the server read it.
        await client.SendAsync(ClientFrame.Build(WebSocketOpcode.Text, "abc"u8, fin: false));
        Assert.Empty(await AnswerPingsAsync(client, time, origin));

        // Ticks at 1 and 2 s: nothing due. The 3 s tick sees both the ping (due 2.5 s) and the deadline (2.5 s).
        time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.Empty(await AnswerPingsAsync(client, time, origin));
        time.Advance(TimeSpan.FromSeconds(1));
        var events = await client.ReadEventsAsync(e => e.Any(x => x.StartsWith("close:", StringComparison.Ordinal)), TimeSpan.FromSeconds(10));

        Assert.Equal(3, events.Count);
        Assert.StartsWith("ping:", events[0], StringComparison.Ordinal);
        Assert.Equal(3.0, SentAt(events[0], time, origin));
        Assert.Equal("close:1008:" + WebSocketConnection.MessageDeadlineReason, events[1]);
        Assert.Equal("finished", events[2]); // the close frame ends the stream
        Assert.True(await client.IsClosedByServerAsync()); // and TCP is dropped without waiting for our close
    }

    /// <summary>
    /// Reads what the last tick sent and answers its keepalive pings, so the next tick may ping again; returns when
    /// each ping was sent, in seconds after <paramref name="origin"/>. A ping the heartbeat queued goes out no later
    /// than the pong to a ping the client sends after it (one control-frame write takes both), so two client round
    /// trips see it; a third, after the pongs, proves the server read them.
    /// </summary>
    private static async Task<List<double>> AnswerPingsAsync(RawWebSocketClient client, FakeTimeProvider time, long origin)
    {
        var events = new List<string>();
        events.AddRange(await RoundTripAsync(client));
        events.AddRange(await RoundTripAsync(client));
        var pings = events.Where(e => e.StartsWith("ping:", StringComparison.Ordinal)).ToList();
        Assert.Equal(events.Count, pings.Count + 2); // nothing but keepalive pings and our pongs
        foreach (var ping in pings)
        {
            await client.SendAsync(ClientFrame.Build(WebSocketOpcode.Pong, Convert.FromHexString(ping["ping:".Length..])));
        }
        Assert.DoesNotContain(await RoundTripAsync(client), e => !e.StartsWith("pong:", StringComparison.Ordinal));
        return pings.Select(p => SentAt(p, time, origin)).ToList();
    }

    private static int s_roundTrips;

    /// <summary>Sends a ping with a fresh payload and reads until its pong; returns every event read, the pong last.</summary>
    private static async Task<List<string>> RoundTripAsync(RawWebSocketClient client)
    {
        var payload = Encoding.ASCII.GetBytes($"rt{Interlocked.Increment(ref s_roundTrips)}");
        var pong = "pong:" + Convert.ToHexString(payload);
        await client.SendAsync(ClientFrame.Build(WebSocketOpcode.Ping, payload));
        var events = await client.ReadEventsAsync(e => e.Contains(pong), TimeSpan.FromSeconds(10));
        Assert.Equal(pong, events[^1]);
        return events;
    }

    /// <summary>The heartbeat timestamp a keepalive ping carries, in seconds after <paramref name="origin"/>.</summary>
    private static double SentAt(string ping, FakeTimeProvider time, long origin)
    {
        var stamp = BinaryPrimitives.ReadInt64BigEndian(Convert.FromHexString(ping["ping:".Length..]));
        return Math.Round((stamp - origin) / (double)time.TimestampFrequency, 3);
    }
}
