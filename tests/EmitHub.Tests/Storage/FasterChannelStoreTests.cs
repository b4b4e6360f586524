using System.Text;
using EmitHub.Core.Channels;
using EmitHub.Core.Storage;
using static EmitHub.Tests.Storage.StoreTestSupport;

namespace EmitHub.Tests.Storage;

public sealed class FasterChannelStoreTests
{
    [Fact]
    public async Task A_new_directory_is_created_and_recovers_empty()
    {
        using var dir = new TempStoreDirectory();
        var (store, recovery) = await OpenAsync(dir.Path);
        await using (store)
        {
            Assert.True(Directory.Exists(Path.Combine(dir.Path, "log")));
            Assert.Empty(recovery.Channels);
            Assert.Empty(recovery.LastSequences);
            Assert.Empty(recovery.Warnings);
            Assert.True(store.IsHealthy);
        }
        Assert.False(store.IsHealthy);
    }

    [Fact]
    public async Task The_store_is_unhealthy_and_refuses_writes_before_recovery()
    {
        using var dir = new TempStoreDirectory();
        await using var store = new FasterChannelStore(Options(dir.Path));
        Assert.False(store.IsHealthy);
        Assert.Throws<InvalidOperationException>(() => { _ = store.SaveChannelAsync(Channel(Guid.NewGuid()), default); });
    }

    [Fact]
    public async Task Channels_and_messages_survive_a_reopen_with_last_upsert_winning_and_deletes_removing()
    {
        using var dir = new TempStoreDirectory();
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();
        var c = Guid.NewGuid();
        var (store, _) = await OpenAsync(dir.Path);
        await using (store)
        {
            await store.SaveChannelAsync(Channel(a, "a"), default);
            await store.SaveChannelAsync(Channel(b, "b", ChannelStatus.Created, persist: false, description: null), default);
            await store.SaveChannelAsync(Channel(c, "c"), default);
            for (var seq = 1; seq <= 5; seq++)
            {
                await store.AppendMessageAsync(Message(a, seq), default);
                await store.AppendMessageAsync(Message(c, seq), default);
            }
            await store.SaveChannelAsync(Channel(a, "a2", ChannelStatus.Paused) with { LastSequence = 5, MessagesSent = 5 }, default);
            await store.DeleteChannelAsync(c, default);
        }

        var (reopened, recovery) = await OpenAsync(dir.Path);
        await using (reopened)
        {
            Assert.Empty(recovery.Warnings);
            Assert.Equal([a, b], recovery.Channels.Select(ch => ch.Id));
            Assert.Equal(Channel(a, "a2", ChannelStatus.Paused) with { LastSequence = 5, MessagesSent = 5 }, recovery.Channels[0]);
            Assert.Equal(Channel(b, "b", ChannelStatus.Created, persist: false, description: null), recovery.Channels[1]);
            Assert.Equal(new Dictionary<Guid, long> { [a] = 5 }, recovery.LastSequences);

            var messages = await ReadAllAsync(reopened, a);
            Assert.Equal([1L, 2, 3, 4, 5], messages.Select(m => m.Sequence));
            Assert.All(messages, m =>
            {
                Assert.Equal(a, m.ChannelId);
                Assert.Equal(T0.AddSeconds(m.Sequence), m.Timestamp);
                Assert.Equal(Envelope(m.Sequence), m.EnvelopeJson.ToArray());
            });
            Assert.Empty(await ReadAllAsync(reopened, c));
            Assert.Equal(1, reopened.GetFirstStoredSequence(a));
            Assert.Equal(0, reopened.GetFirstStoredSequence(c));
        }
    }

    [Fact]
    public async Task Channel_fields_round_trip_exactly_including_unicode_and_offsets()
    {
        using var dir = new TempStoreDirectory();
        var id = Guid.NewGuid();
        var record = new ChannelRecord(id, "Sala de espera ñ 🎫", new string('d', 2000), ChannelStatus.Stopped,
            new DateTimeOffset(2026, 1, 2, 3, 4, 5, 678, TimeSpan.FromHours(-3)), new DateTimeOffset(2026, 5, 6, 7, 8, 9, TimeSpan.FromMinutes(330)),
            new ChannelSettings(1_000_000, false, true, 0, 100), "8c1f2d", 123456789, 987654321);
        var (store, _) = await OpenAsync(dir.Path);
        await using (store)
        {
            await store.SaveChannelAsync(record, default);
        }
        var (reopened, recovery) = await OpenAsync(dir.Path);
        await using (reopened)
        {
            var back = Assert.Single(recovery.Channels);
            Assert.Equal(record, back);
            Assert.Equal(record.CreatedAt.Offset, back.CreatedAt.Offset);
            Assert.Equal(record.UpdatedAt.Offset, back.UpdatedAt.Offset);
        }
    }

    [Fact]
    public async Task Reading_messages_pages_by_sequence_oldest_first()
    {
        using var dir = new TempStoreDirectory();
        var id = Guid.NewGuid();
        var (store, _) = await OpenAsync(dir.Path);
        await using (store)
        {
            await store.SaveChannelAsync(Channel(id), default);
            var pending = new List<ValueTask>();
            for (var seq = 1; seq <= 250; seq++)
            {
                pending.Add(store.AppendMessageAsync(Message(id, seq), default));
            }
            foreach (var task in pending)
            {
                await task;
            }

            var first = await store.ReadMessagesAsync(id, 0, 100, default);
            var second = await store.ReadMessagesAsync(id, 100, 100, default);
            var third = await store.ReadMessagesAsync(id, 200, 100, default);
            var empty = await store.ReadMessagesAsync(id, 250, 100, default);
            var middle = await store.ReadMessagesAsync(id, 137, 3, default);
            Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), first.Select(m => m.Sequence));
            Assert.Equal(Enumerable.Range(101, 100).Select(i => (long)i), second.Select(m => m.Sequence));
            Assert.Equal(Enumerable.Range(201, 50).Select(i => (long)i), third.Select(m => m.Sequence));
            Assert.Empty(empty);
            Assert.Equal([138L, 139, 140], middle.Select(m => m.Sequence));
            Assert.Equal(Envelope(139), middle[1].EnvelopeJson.ToArray());
            Assert.Empty(await store.ReadMessagesAsync(Guid.NewGuid(), 0, 100, default));
        }
    }

    [Fact]
    public async Task Concurrent_appenders_share_commits_and_keep_sequence_order()
    {
        using var dir = new TempStoreDirectory();
        var shared = Guid.NewGuid();
        var own = Enumerable.Range(0, 16).Select(_ => Guid.NewGuid()).ToArray();
        const int perAppender = 150;
        var (store, _) = await OpenAsync(dir.Path);
        await using (store)
        {
            await store.SaveChannelAsync(Channel(shared, "shared"), default);
            foreach (var id in own)
            {
                await store.SaveChannelAsync(Channel(id, "own"), default);
            }
            var gate = new Lock();
            long sequence = 0;
            var appenders = Enumerable.Range(0, 16).Select(n => Task.Run(async () =>
            {
                for (var i = 1; i <= perAppender; i++)
                {
                    ValueTask commit;
                    // The registry assigns a sequence and enqueues under the channel's lock; the commit is awaited outside.
                    lock (gate)
                    {
                        commit = store.AppendMessageAsync(Message(shared, ++sequence), default);
                    }
                    await commit;
                    await store.AppendMessageAsync(Message(own[n], i), default);
                }
            })).ToArray();
            await Task.WhenAll(appenders);

            var messages = await ReadAllAsync(store, shared);
            Assert.Equal(Enumerable.Range(1, 16 * perAppender).Select(i => (long)i), messages.Select(m => m.Sequence));
        }

        var (reopened, recovery) = await OpenAsync(dir.Path);
        await using (reopened)
        {
            Assert.Empty(recovery.Warnings);
            Assert.Equal(16 * perAppender, recovery.LastSequences[shared]);
            var messages = await ReadAllAsync(reopened, shared);
            Assert.Equal(Enumerable.Range(1, 16 * perAppender).Select(i => (long)i), messages.Select(m => m.Sequence));
            Assert.All(messages, m => Assert.Equal(Envelope(m.Sequence), m.EnvelopeJson.ToArray()));
            foreach (var id in own)
            {
                Assert.Equal(Enumerable.Range(1, perAppender).Select(i => (long)i), (await ReadAllAsync(reopened, id)).Select(m => m.Sequence));
            }
        }
    }

    [Fact]
    public async Task Appends_are_refused_for_unknown_channels_repeated_sequences_and_records_over_a_page()
    {
        using var dir = new TempStoreDirectory();
        var id = Guid.NewGuid();
        var (store, _) = await OpenAsync(dir.Path);
        await using (store)
        {
            Assert.Throws<InvalidOperationException>(() => { _ = store.AppendMessageAsync(Message(id, 1), default); });
            await store.SaveChannelAsync(Channel(id), default);
            await store.AppendMessageAsync(Message(id, 1), default);
            Assert.Throws<InvalidOperationException>(() => { _ = store.AppendMessageAsync(Message(id, 1), default); });
            var huge = new StoredMessage(id, 2, T0, new byte[1 << PageSizeBits]);
            Assert.Throws<ArgumentException>(() => { _ = store.AppendMessageAsync(huge, default); });
            // The largest record that fits a page is accepted and read back.
            var largest = new StoredMessage(id, 2, T0, Encoding.UTF8.GetBytes(new string('x', store.MaxRecordLength - StoredMessageOverhead)));
            await store.AppendMessageAsync(largest, default);
            Assert.Equal(largest.EnvelopeJson.ToArray(), (await store.ReadMessagesAsync(id, 1, 1, default))[0].EnvelopeJson.ToArray());
            Assert.True(store.IsHealthy);
        }
    }

    private const int StoredMessageOverhead = StoreRecordCodec.HeaderLength + 20;

    [Fact]
    public async Task A_second_restart_after_writing_post_recovery_loses_nothing()
    {
        using var dir = new TempStoreDirectory();
        var id = Guid.NewGuid();
        var (store, _) = await OpenAsync(dir.Path);
        await using (store)
        {
            await store.SaveChannelAsync(Channel(id), default);
            for (var seq = 1; seq <= 40; seq++)
            {
                await store.AppendMessageAsync(Message(id, seq), default);
            }
        }
        var (second, recovery) = await OpenAsync(dir.Path);
        await using (second)
        {
            Assert.Equal(40, recovery.LastSequences[id]);
            for (var seq = 41; seq <= 80; seq++)
            {
                await second.AppendMessageAsync(Message(id, seq), default);
            }
            await second.SaveChannelAsync(Channel(id, "renamed"), default);
        }
        var (third, again) = await OpenAsync(dir.Path);
        await using (third)
        {
            Assert.Empty(again.Warnings);
            Assert.Equal("renamed", Assert.Single(again.Channels).Name);
            Assert.Equal(80, again.LastSequences[id]);
            Assert.Equal(Enumerable.Range(1, 80).Select(i => (long)i), (await ReadAllAsync(third, id)).Select(m => m.Sequence));
        }
    }

    [Fact]
    public async Task A_new_epoch_restarts_the_sequence_and_drops_the_old_epochs_messages()
    {
        using var dir = new TempStoreDirectory();
        var id = Guid.NewGuid();
        var (store, _) = await OpenAsync(dir.Path);
        await using (store)
        {
            await store.SaveChannelAsync(Channel(id) with { Epoch = "old" }, default);
            for (var seq = 1; seq <= 20; seq++)
            {
                await store.AppendMessageAsync(Message(id, seq), default);
            }
            await store.ApplyRetentionAsync(T0, 30, 15, default);
            // Persistence was switched off, the server restarted (new epoch), then switched back on.
            await store.SaveChannelAsync(Channel(id) with { Epoch = "new" }, default);
            Assert.Equal(0, store.GetFirstStoredSequence(id));
            await store.AppendMessageAsync(Message(id, 1), default);
            await store.AppendMessageAsync(Message(id, 2), default);
            Assert.Equal([1L, 2], (await ReadAllAsync(store, id)).Select(m => m.Sequence));
        }
        var (reopened, recovery) = await OpenAsync(dir.Path);
        await using (reopened)
        {
            Assert.Equal("new", Assert.Single(recovery.Channels).Epoch);
            Assert.Equal(2, recovery.LastSequences[id]);
            Assert.Equal([1L, 2], (await ReadAllAsync(reopened, id)).Select(m => m.Sequence));
        }
    }

    [Fact]
    public async Task Flush_commits_everything_enqueued_and_dispose_is_idempotent()
    {
        using var dir = new TempStoreDirectory();
        var id = Guid.NewGuid();
        var (store, _) = await OpenAsync(dir.Path);
        await store.SaveChannelAsync(Channel(id), default);
        var pending = Enumerable.Range(1, 30).Select(seq => store.AppendMessageAsync(Message(id, seq), default).AsTask()).ToList();
        await store.FlushAsync(default);
        await Task.WhenAll(pending);
        await store.DisposeAsync();
        await store.DisposeAsync();
        var (reopened, recovery) = await OpenAsync(dir.Path);
        await using (reopened)
        {
            Assert.Equal(30, recovery.LastSequences[id]);
        }
    }
}
