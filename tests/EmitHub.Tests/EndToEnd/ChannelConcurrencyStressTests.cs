using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.EndToEnd;

/// <summary>
/// Issue 9's stress test: REST operators and WebSocket clients race on few channels for a few seconds, through the
/// real server, and every invariant is checked on what the clients and the API saw.
/// </summary>
public class ChannelConcurrencyStressTests
{
    private static readonly TimeSpan s_chaos = TimeSpan.FromSeconds(4);

    private sealed record ClientLog(string Channel, string Query, List<JsonElement> Envelopes, WebSocketCloseStatus? Close, bool WeClosed, string? Failure);

    [Fact]
    public async Task Create_start_pause_stop_patch_delete_broadcast_subscribe_chat_unsubscribe_racing_keep_every_invariant()
    {
        await using var hub = await TestHubServer.StartAsync();
        var channels = new string[3];
        const string body = """{"name":"s","settings":{"rate_limit_per_minute":0,"allow_client_messages":true,"persist_messages":PERSIST}}""";
        for (var i = 0; i < channels.Length; i++)
        {
            channels[i] = await hub.CreateActiveChannelAsync(body.Replace("PERSIST", i == 0 ? "false" : "true"));
        }
        var statuses = new ConcurrentBag<(string Op, HttpStatusCode Status)>();
        var clients = new ConcurrentBag<ClientLog>();
        var errors = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource(s_chaos);

        string Pick(Random random)
        {
            lock (channels)
            {
                return channels[random.Next(channels.Length)];
            }
        }

        async Task Rest(string op, HttpMethod method, string path, string? json = null)
        {
            using var response = await hub.Client.SendAsync(TestHubServer.Request(method, path, json));
            statuses.Add((op, response.StatusCode));
        }

        async Task Loop(int seed, Func<Random, Task> body)
        {
            var random = new Random(seed);
            await Task.Yield();
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await body(random);
                }
                catch (Exception e)
                {
                    errors.Enqueue(e.ToString());
                }
            }
        }

        var loops = new List<Task>
        {
            Loop(1, r => Rest("broadcast", HttpMethod.Post, $"/api/v1/channels/{Pick(r)}/broadcast", """{"content":"b"}""")),
            Loop(2, r => Rest("broadcast", HttpMethod.Post, $"/api/v1/channels/{Pick(r)}/broadcast", """{"content":"b","data":{"k":1}}""")),
            Loop(3, async r =>
            {
                var id = Pick(r);
                switch (r.Next(5))
                {
                    case 0: await Rest("start", HttpMethod.Put, $"/api/v1/channels/{id}/start"); break;
                    case 1: await Rest("pause", HttpMethod.Put, $"/api/v1/channels/{id}/pause"); break;
                    case 2: await Rest("stop", HttpMethod.Put, $"/api/v1/channels/{id}/stop"); break;
                    default:
                        await Rest("patch", HttpMethod.Patch, $"/api/v1/channels/{id}",
                            "{\"name\":\"s" + r.Next(9) + "\",\"settings\":{\"replay_last\":" + r.Next(3) + "}}");
                        break;
                }
                await Task.Delay(r.Next(20, 80));
            }),
            Loop(4, async r =>
            {
                await Task.Delay(r.Next(300, 700));
                var slot = r.Next(channels.Length);
                string old;
                lock (channels)
                {
                    old = channels[slot];
                }
                await Rest("delete", HttpMethod.Delete, $"/api/v1/channels/{old}");
                var created = await hub.CreateActiveChannelAsync(body.Replace("PERSIST", r.Next(2) == 0 ? "false" : "true"));
                lock (channels)
                {
                    channels[slot] = created;
                }
            }),
        };
        for (var c = 0; c < 6; c++)
        {
            loops.Add(Loop(100 + c, r => RunClientAsync(hub, Pick(r), r, clients)));
        }
        await Task.WhenAll(loops);

        // No exception escaped a REST call or a client, and nothing was answered 5xx.
        Assert.Empty(errors);
        Assert.Empty(statuses.Where(s => (int)s.Status >= 500).Select(s => $"{s.Op}: {(int)s.Status}"));
        Assert.Contains(statuses, s => s.Op == "broadcast" && s.Status == HttpStatusCode.OK);
        Assert.Contains(clients, c => c.Envelopes.Any(e => Status(e) == "stopped"));
        Assert.True(clients.Count(c => c.Envelopes.Any(e => Status(e) == "connected")) >= 10, $"only {clients.Count} client sessions ran");
        foreach (var client in clients)
        {
            CheckClient(client);
        }

        // At rest: stats.connections equals the clients actually connected (0 after the chaos, then 2 per channel).
        string[] final;
        lock (channels)
        {
            final = [.. channels];
        }
        foreach (var id in final)
        {
            await Rest("start", HttpMethod.Put, $"/api/v1/channels/{id}/start");
            await WaitForConnectionsAsync(hub, id, 0);
        }
        var open = new List<ClientWebSocket>();
        try
        {
            foreach (var id in final)
            {
                for (var k = 0; k < 2; k++)
                {
                    var ws = await hub.ConnectAsync(id);
                    Assert.Equal("connected", Status((await ws.ReceiveEnvelopeAsync())!.Value));
                    open.Add(ws);
                }
            }
            foreach (var id in final)
            {
                await WaitForConnectionsAsync(hub, id, 2);
            }
        }
        finally
        {
            foreach (var ws in open)
            {
                ws.Dispose();
            }
        }
    }

    /// <summary>One client session: connect (sometimes with <c>?after=0</c>), read, maybe chat, then leave — unless
    /// the server ends it first.</summary>
    private static async Task RunClientAsync(TestHubServer hub, string channel, Random random, ConcurrentBag<ClientLog> logs)
    {
        var query = random.Next(3) == 0 ? "?after=0" : "";
        var ws = new ClientWebSocket();
        try
        {
            using var connectTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{hub.EndPoint.Port}/api/v1/channels/{channel}/ws{query}"), connectTimeout.Token);
        }
        catch (WebSocketException)
        {
            ws.Dispose();
            return; // the channel was deleted before the handshake: 404, no session
        }
        using (ws)
        {
            var envelopes = new List<JsonElement>();
            var reading = Task.Run(async () =>
            {
                while (true)
                {
                    var text = await ws.ReceiveTextAsync(timeoutSeconds: 30);
                    if (text is null)
                    {
                        return;
                    }
                    lock (envelopes)
                    {
                        envelopes.Add(JsonDocument.Parse(text).RootElement.Clone());
                    }
                }
            });
            await Task.Delay(random.Next(50, 400));
            var weClosed = false;
            string? failure = null;
            try
            {
                if (ws.State == WebSocketState.Open && random.Next(2) == 0)
                {
                    await ws.SendAsync(Encoding.UTF8.GetBytes("hola"), WebSocketMessageType.Text, true, CancellationToken.None);
                    await Task.Delay(random.Next(20, 100));
                }
                if (ws.State == WebSocketState.Open)
                {
                    weClosed = true;
                    await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                }
            }
            catch (Exception e) when (e is WebSocketException or InvalidOperationException)
            {
                // The server closed first (stop, delete, denial): the reader records how.
            }
            try
            {
                await reading;
            }
            catch (Exception e)
            {
                failure = e.GetType().Name + ": " + e.Message;
            }
            lock (envelopes)
            {
                logs.Add(new ClientLog(channel, query, [.. envelopes], ws.CloseStatus, weClosed, failure));
            }
        }
    }

    private static void CheckClient(ClientLog client)
    {
        var where = $"client of {client.Channel}{client.Query} saw [{string.Join(",", client.Envelopes.Select(Status))}], close {client.Close}";
        Assert.True(client.Failure is null, $"{where}: {client.Failure}");
        var envelopes = client.Envelopes;
        if (envelopes.Count == 0)
        {
            // A delete raced the handshake: closed 1001 without a session, or we left before anything came.
            Assert.True(client.Close is WebSocketCloseStatus.EndpointUnavailable or WebSocketCloseStatus.NormalClosure, where);
            return;
        }
        var first = Status(envelopes[0]);
        if (first == "denied")
        {
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, client.Close); // not Active; never "full" here
            Assert.Single(envelopes);
            return;
        }
        Assert.Equal("connected", first);
        var data = envelopes[0].GetProperty("data");
        var last = data.GetProperty("last_sequence").GetInt64();
        var recovered = data.TryGetProperty("recovered", out var r) ? r.GetBoolean() : (bool?)null;
        // Sequences strictly increase; the live stream (and a recovered replay) has no gap.
        long previous = recovered == true ? 0 : -1;
        long expectedNext = recovered == true ? 1 : last + 1;
        var stoppedAt = -1;
        for (var i = 1; i < envelopes.Count; i++)
        {
            var status = Status(envelopes[i]);
            Assert.True(stoppedAt < 0, $"{where}: {status} after stopped");
            if (status == "stopped")
            {
                stoppedAt = i;
                continue;
            }
            if (!envelopes[i].TryGetProperty("sequence", out var s))
            {
                continue;
            }
            var sequence = s.GetInt64();
            Assert.True(sequence > previous, $"{where}: sequence {sequence} after {previous}");
            if (sequence > last || recovered == true)
            {
                Assert.True(sequence == expectedNext, $"{where}: sequence {sequence}, expected {expectedNext}");
                expectedNext = sequence + 1;
            }
            previous = sequence;
        }
        if (stoppedAt >= 0)
        {
            // stopped, then 1001 — or our own close frame crossed the server's and was answered first.
            Assert.True(client.Close == WebSocketCloseStatus.EndpointUnavailable
                || (client.WeClosed && client.Close == WebSocketCloseStatus.NormalClosure), where);
        }
        else if (client.Close == WebSocketCloseStatus.EndpointUnavailable)
        {
            Assert.Fail($"{where}: closed 1001 without stopped");
        }
        else
        {
            Assert.True(client.WeClosed && client.Close == WebSocketCloseStatus.NormalClosure, where);
        }
    }

    private static string Status(JsonElement envelope) => envelope.GetProperty("status").GetString()!;

    private static async Task WaitForConnectionsAsync(TestHubServer hub, string id, int expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var channel = JsonDocument.Parse(await hub.Client.GetStringAsync($"/api/v1/channels/{id}")).RootElement;
            var connections = channel.GetProperty("stats").GetProperty("connections").GetInt32();
            if (connections == expected)
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"channel {id}: stats.connections {connections}, {expected} clients connected");
            await Task.Delay(50);
        }
    }
}
