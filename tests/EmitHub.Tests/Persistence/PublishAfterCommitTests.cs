using EmitHub.Core.Channels;
using EmitHub.Core.Storage;
using EmitHub.Tests.Channels;

namespace EmitHub.Tests.Persistence;

/// <summary>
/// A persisting channel sends a message to its clients only once the store committed it, and keeps channel order:
/// later messages, pause/resume notices and a stop wait behind it. Driven by a store whose commits the test
/// releases by hand (<see cref="HeldCommitStore"/>).
/// </summary>
public sealed class PublishAfterCommitTests
{
    private static async Task<(ChannelRegistry Registry, HeldCommitStore Store, Guid Id, RecordingSubscriber Client)> SetUpAsync()
    {
        var store = new HeldCommitStore();
        var registry = ChannelTestKit.NewRegistry(store);
        var channel = await ChannelTestKit.CreateAsync(registry, """{"name":"Turnos","settings":{"persist_messages":true,"rate_limit_per_minute":0}}""");
        Assert.True((await registry.StartAsync(channel.Id, default)).IsSuccess);
        var client = new RecordingSubscriber();
        Assert.Equal(SubscribeOutcome.Connected, (await registry.SubscribeAsync(channel.Id, client, null, null, default)).Outcome);
        return (registry, store, channel.Id, client);
    }

    private static List<long> Sequences(RecordingSubscriber client) =>
        client.All.Where(e => e.TryGetProperty("sequence", out _)).Select(e => e.GetProperty("sequence").GetInt64()).ToList();

    [Fact]
    public async Task A_broadcast_reaches_clients_only_after_its_commit_and_its_ack_counts_them()
    {
        var (registry, store, id, client) = await SetUpAsync();
        var broadcast = registry.BroadcastAsync(id, ChannelTestKit.Broadcast("A001"), default).AsTask();
        Assert.Equal(1, store.Held);
        Assert.False(broadcast.IsCompleted);
        Assert.Equal(["connected"], client.Statuses);

        // A client joining now is told the last sequence it could have been sent, and gets the message live.
        var late = new RecordingSubscriber();
        await registry.SubscribeAsync(id, late, 0, null, default);
        Assert.Equal(0, late.All[0].GetProperty("data").GetProperty("last_sequence").GetInt64());

        store.Commit(1);
        var result = await broadcast;
        Assert.Equal(1, result.Ack!.Sequence);
        Assert.Equal(2, result.Ack.Recipients);
        Assert.Equal(["connected", "broadcast"], client.Statuses);
        Assert.Equal([1L], Sequences(late));
    }

    [Fact]
    public async Task A_later_commit_publishes_everything_before_it_in_sequence_order()
    {
        var (registry, store, id, client) = await SetUpAsync();
        var broadcasts = Enumerable.Range(1, 3).Select(i => registry.BroadcastAsync(id, ChannelTestKit.Broadcast($"A00{i}"), default).AsTask()).ToList();
        Assert.Equal(3, store.Held);

        // Commits cover a prefix of the log: the third one's completion means the first two are durable too.
        store.CompleteOnly(2);
        Assert.Equal(1, (await broadcasts[2]).Ack!.Recipients);
        Assert.Equal([1L, 2L, 3L], Sequences(client));
        store.Commit(3);
        Assert.All(await Task.WhenAll(broadcasts), r => Assert.Equal(1, r.Ack!.Recipients));
        Assert.Equal([1L, 2L, 3L], Sequences(client));
    }

    [Fact]
    public async Task Pause_and_stop_notices_wait_behind_uncommitted_broadcasts()
    {
        var (registry, store, id, client) = await SetUpAsync();
        var first = registry.BroadcastAsync(id, ChannelTestKit.Broadcast("A001"), default).AsTask();
        var pause = registry.PauseAsync(id, default).AsTask();
        Assert.Equal(["connected"], client.Statuses);
        store.Commit(1);
        await Task.WhenAll(first, pause);
        Assert.Equal(["connected", "broadcast", "paused"], client.Statuses);

        Assert.True((await registry.StartAsync(id, default)).IsSuccess);
        var second = registry.BroadcastAsync(id, ChannelTestKit.Broadcast("A002"), default).AsTask();
        var stop = registry.StopAsync(id, default).AsTask();
        Assert.Null(client.CloseCode);
        store.Commit(1);
        await Task.WhenAll(second, stop);
        Assert.Equal(["connected", "broadcast", "paused", "resumed", "broadcast", "stopped"], client.Statuses);
        Assert.Equal((ushort)1001, client.CloseCode);
        Assert.Equal(0, registry.Get(id)!.Stats.Connections);
    }

    [Fact]
    public async Task A_failed_commit_is_never_sent_and_does_not_hold_back_what_follows()
    {
        var (registry, store, id, client) = await SetUpAsync();
        var failed = registry.BroadcastAsync(id, ChannelTestKit.Broadcast("lost"), default).AsTask();
        var pause = registry.PauseAsync(id, default).AsTask();
        store.Fail(1);
        Assert.Equal(ChannelError.Unavailable, (await failed).Error);
        await pause;
        Assert.Equal(["connected", "paused"], client.Statuses);
    }

    [Fact]
    public async Task A_client_message_on_a_persisting_channel_goes_out_after_its_commit()
    {
        var store = new HeldCommitStore();
        var registry = ChannelTestKit.NewRegistry(store);
        var channel = await ChannelTestKit.CreateAsync(registry,
            """{"name":"Chat","settings":{"persist_messages":true,"allow_client_messages":true,"rate_limit_per_minute":0}}""");
        await registry.StartAsync(channel.Id, default);
        var sender = new RecordingSubscriber();
        var subscription = (await registry.SubscribeAsync(channel.Id, sender, null, null, default)).Subscription!;
        subscription.OnClientText("hola");
        Assert.Equal(["connected"], sender.Statuses);
        store.Commit(1);
        await WaitUntilAsync(() => sender.Statuses.Count == 2);
        Assert.Equal(["connected", "client_message"], sender.Statuses);
        subscription.Dispose();
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            await Task.Delay(10, cts.Token);
        }
    }

    /// <summary>The in-memory store, except that message appends complete only when the test says so, oldest
    /// first; channel records commit at once unless messages wait (the log would commit them after those).
    /// History reads see committed messages only, as the FASTER store's do.</summary>
    private sealed class HeldCommitStore : IChannelStore
    {
        private readonly InMemoryChannelStore _inner = new();
        private readonly List<(TaskCompletionSource Done, long Sequence)> _held = [];
        private long _committed;

        public int Held
        {
            get { lock (_held) { return _held.Count; } }
        }

        public void Commit(int count) => Complete(count, fail: false);

        public void Fail(int count) => Complete(count, fail: true);

        /// <summary>Completes only the waiter at <paramref name="index"/> (a group commit's waiters wake in any order).</summary>
        public void CompleteOnly(int index)
        {
            TaskCompletionSource done;
            lock (_held)
            {
                done = _held[index].Done;
                _committed = Math.Max(_committed, _held[index].Sequence);
            }
            done.SetResult();
        }

        private void Complete(int count, bool fail)
        {
            var batch = new List<TaskCompletionSource>();
            lock (_held)
            {
                for (var i = 0; i < count; i++)
                {
                    var (done, sequence) = _held[0];
                    _held.RemoveAt(0);
                    if (!fail)
                    {
                        _committed = Math.Max(_committed, sequence);
                    }
                    batch.Add(done);
                }
            }
            foreach (var done in batch)
            {
                if (fail)
                {
                    done.TrySetException(new IOException("commit failed"));
                }
                else
                {
                    done.TrySetResult();
                }
            }
        }

        public ValueTask<StoreRecovery> RecoverAsync(CancellationToken cancellationToken) => _inner.RecoverAsync(cancellationToken);

        public ValueTask SaveChannelAsync(ChannelRecord channel, CancellationToken cancellationToken) =>
            _inner.SaveChannelAsync(channel, cancellationToken);

        public ValueTask DeleteChannelAsync(Guid channelId, CancellationToken cancellationToken) => _inner.DeleteChannelAsync(channelId, cancellationToken);

        public async ValueTask AppendMessageAsync(StoredMessage message, CancellationToken cancellationToken)
        {
            var copy = message with { EnvelopeJson = message.EnvelopeJson.ToArray() };
            await _inner.AppendMessageAsync(copy, cancellationToken);
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_held)
            {
                _held.Add((done, message.Sequence));
            }
            await done.Task;
        }

        public async ValueTask<IReadOnlyList<StoredMessage>> ReadMessagesAsync(Guid channelId, long afterSequence, int limit, CancellationToken cancellationToken)
        {
            var all = await _inner.ReadMessagesAsync(channelId, afterSequence, limit, cancellationToken);
            var committed = Interlocked.Read(ref _committed);
            return all.Where(m => m.Sequence <= committed).ToList();
        }

        public long GetFirstStoredSequence(Guid channelId) => _inner.GetFirstStoredSequence(channelId);

        public bool IsHealthy => _inner.IsHealthy;

        public ValueTask ApplyRetentionAsync(DateTimeOffset now, int retentionDays, int maxMessagesPerChannel, CancellationToken cancellationToken) =>
            _inner.ApplyRetentionAsync(now, retentionDays, maxMessagesPerChannel, cancellationToken);

        public ValueTask BackupAsync(string directory, CancellationToken cancellationToken) => _inner.BackupAsync(directory, cancellationToken);

        public ValueTask FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

        public ValueTask DisposeAsync() => _inner.DisposeAsync();
    }
}
