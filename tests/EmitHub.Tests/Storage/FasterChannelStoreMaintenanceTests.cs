using EmitHub.Core.Channels;
using EmitHub.Core.Storage;
using Xunit.Abstractions;
using static EmitHub.Tests.Storage.StoreTestSupport;

namespace EmitHub.Tests.Storage;

/// <summary>Retention (logical and physical), compaction and backups.</summary>
public sealed class FasterChannelStoreMaintenanceTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Retention_by_days_then_by_count_removes_the_oldest_messages_durably()
    {
        using var dir = new TempStoreDirectory();
        var a = Guid.NewGuid();
        var quiet = Guid.NewGuid();
        var (store, _) = await OpenAsync(dir.Path);
        await using (store)
        {
            await store.SaveChannelAsync(Channel(a), default);
            await store.SaveChannelAsync(Channel(quiet, "quiet"), default);
            for (var seq = 1; seq <= 100; seq++)
            {
                await store.AppendMessageAsync(Message(a, seq, T0.AddHours(seq)), default);
            }

            // A fake "now": one day of retention keeps messages from T0+76h on, i.e. sequences 76..100.
            await store.ApplyRetentionAsync(T0.AddHours(100), retentionDays: 1, maxMessagesPerChannel: 1000, default);
            Assert.Equal(76, store.GetFirstStoredSequence(a));
            Assert.Equal(Enumerable.Range(76, 25).Select(i => (long)i), (await ReadAllAsync(store, a)).Select(m => m.Sequence));

            await store.ApplyRetentionAsync(T0.AddHours(100), retentionDays: 30, maxMessagesPerChannel: 10, default);
            Assert.Equal(91, store.GetFirstStoredSequence(a));
            Assert.Equal([91L, 92], (await store.ReadMessagesAsync(a, 0, 2, default)).Select(m => m.Sequence));
            Assert.Equal(0, store.GetFirstStoredSequence(quiet));
        }

        var (reopened, recovery) = await OpenAsync(dir.Path);
        await using (reopened)
        {
            Assert.Empty(recovery.Warnings);
            Assert.Equal(100, recovery.LastSequences[a]);
            Assert.Equal(Enumerable.Range(91, 10).Select(i => (long)i), (await ReadAllAsync(reopened, a)).Select(m => m.Sequence));

            // Everything removed: the sequence still continues after a restart.
            await reopened.ApplyRetentionAsync(T0.AddHours(100), retentionDays: 30, maxMessagesPerChannel: 0, default);
            Assert.Equal(0, reopened.GetFirstStoredSequence(a));
            Assert.Empty(await ReadAllAsync(reopened, a));
        }

        var (third, again) = await OpenAsync(dir.Path);
        await using (third)
        {
            Assert.Equal(100, again.LastSequences[a]);
            Assert.Empty(await ReadAllAsync(third, a));
            await third.AppendMessageAsync(Message(a, 101), default);
            Assert.Equal(101, Assert.Single(await ReadAllAsync(third, a)).Sequence);
        }
    }

    [Fact]
    public async Task Disk_use_levels_off_under_a_steady_stream_with_retention_and_deleted_channels()
    {
        using var dir = new TempStoreDirectory();
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();
        var sizes = new List<long>();
        long written = 0;
        long nextA = 0, nextB = 0;
        var (store, _) = await OpenAsync(dir.Path);
        await using (store)
        {
            await store.SaveChannelAsync(Channel(a, "a"), default);
            await store.SaveChannelAsync(Channel(b, "b"), default);
            for (var round = 0; round < 30; round++)
            {
                // A short-lived channel whose data must be reclaimed after its delete.
                var temporary = Guid.NewGuid();
                await store.SaveChannelAsync(Channel(temporary, "temp"), default);
                var pending = new List<ValueTask>();
                for (var i = 0; i < 150; i++)
                {
                    pending.Add(store.AppendMessageAsync(Message(a, ++nextA), default));
                    pending.Add(store.AppendMessageAsync(Message(b, ++nextB), default));
                    if (i < 50)
                    {
                        pending.Add(store.AppendMessageAsync(Message(temporary, i + 1), default));
                    }
                }
                foreach (var task in pending)
                {
                    await task;
                }
                written += 350;
                await store.DeleteChannelAsync(temporary, default);
                await store.ApplyRetentionAsync(T0.AddHours(1), retentionDays: 30, maxMessagesPerChannel: 100, default);
                sizes.Add(DirectorySize(dir.Path));
            }

            output.WriteLine("store bytes per round: " + string.Join(", ", sizes));
            Assert.True(store.BeginAddress > 64, "the head was truncated");
            // ~350 records of ~110 bytes per round: 30 rounds wrote over 1 MB, the live set is 200 messages (~22 KB).
            Assert.True(written * 100 > 1_000_000);
            var early = sizes.Take(10).Max();
            var late = sizes.Skip(20).Max();
            Assert.True(late <= early * 1.5, $"disk use kept growing: {string.Join(", ", sizes)}");
            Assert.True(late < 400_000, $"disk use too high: {string.Join(", ", sizes)}");
            Assert.Equal(Enumerable.Range((int)nextA - 99, 100).Select(i => (long)i), (await ReadAllAsync(store, a)).Select(m => m.Sequence));
        }

        var (reopened, recovery) = await OpenAsync(dir.Path);
        await using (reopened)
        {
            Assert.Empty(recovery.Warnings);
            Assert.Equal([a, b], recovery.Channels.Select(c => c.Id));
            Assert.Equal(nextA, recovery.LastSequences[a]);
            var messages = await ReadAllAsync(reopened, b);
            Assert.Equal(Enumerable.Range((int)nextB - 99, 100).Select(i => (long)i), messages.Select(m => m.Sequence));
            Assert.All(messages, m => Assert.Equal(Envelope(m.Sequence), m.EnvelopeJson.ToArray()));
        }
    }

    [Fact]
    public async Task Compaction_while_appending_and_reading_loses_nothing_and_survives_a_restart()
    {
        using var dir = new TempStoreDirectory();
        var id = Guid.NewGuid();
        var (store, _) = await OpenAsync(dir.Path, compactionMinBytes: 0);
        await using (store)
        {
            await store.SaveChannelAsync(Channel(id), default);
            for (var seq = 1; seq <= 300; seq++)
            {
                await store.AppendMessageAsync(Message(id, seq), default);
            }
            var appender = Task.Run(async () =>
            {
                for (var seq = 301; seq <= 600; seq++)
                {
                    await store.AppendMessageAsync(Message(id, seq), default);
                }
            });
            var reader = Task.Run(async () =>
            {
                for (var i = 0; i < 20; i++)
                {
                    var page = await store.ReadMessagesAsync(id, 0, 300, default);
                    Assert.Equal(Enumerable.Range(1, 300).Select(s => (long)s), page.Select(m => m.Sequence));
                    Assert.All(page, m => Assert.Equal(Envelope(m.Sequence), m.EnvelopeJson.ToArray()));
                }
            });
            for (var i = 0; i < 3; i++)
            {
                await store.CompactAsync(default);
            }
            await Task.WhenAll(appender, reader);
            await store.CompactAsync(default);
            Assert.Equal(Enumerable.Range(1, 600).Select(s => (long)s), (await ReadAllAsync(store, id)).Select(m => m.Sequence));
        }
        var (reopened, recovery) = await OpenAsync(dir.Path);
        await using (reopened)
        {
            Assert.Empty(recovery.Warnings);
            Assert.Equal(600, recovery.LastSequences[id]);
            Assert.Equal(Enumerable.Range(1, 600).Select(s => (long)s), (await ReadAllAsync(reopened, id)).Select(m => m.Sequence));
        }
    }

    [Fact]
    public async Task A_backup_starts_a_new_store_with_identical_contents()
    {
        using var dir = new TempStoreDirectory();
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();
        var gone = Guid.NewGuid();
        var backupDirectory = FasterChannelStore.GetBackupDirectory(dir.Path, T0);
        Assert.Equal(Path.Combine(dir.Path, "backups", "20261101T120000Z"), backupDirectory);
        List<StoredMessage> messagesA, messagesB;
        var (store, _) = await OpenAsync(dir.Path);
        await using (store)
        {
            await store.SaveChannelAsync(Channel(a, "a"), default);
            await store.SaveChannelAsync(Channel(b, "b", ChannelStatus.Stopped, persist: false, description: null), default);
            await store.SaveChannelAsync(Channel(gone, "gone"), default);
            for (var seq = 1; seq <= 120; seq++)
            {
                await store.AppendMessageAsync(Message(a, seq), default);
                await store.AppendMessageAsync(Message(gone, seq), default);
            }
            await store.DeleteChannelAsync(gone, default);
            await store.ApplyRetentionAsync(T0, retentionDays: 30, maxMessagesPerChannel: 100, default);
            messagesA = await ReadAllAsync(store, a);
            messagesB = await ReadAllAsync(store, b);

            await store.BackupAsync(backupDirectory, default);
            // Written after the backup: not in it.
            await store.AppendMessageAsync(Message(a, 121), default);
            await store.SaveChannelAsync(Channel(b, "b-renamed"), default);
        }

        var (restored, recovery) = await OpenAsync(backupDirectory);
        await using (restored)
        {
            Assert.Empty(recovery.Warnings);
            Assert.Equal([Channel(a, "a"), Channel(b, "b", ChannelStatus.Stopped, persist: false, description: null)], recovery.Channels);
            Assert.Equal(new Dictionary<Guid, long> { [a] = 120 }, recovery.LastSequences);
            var restoredA = await ReadAllAsync(restored, a);
            Assert.Equal(messagesA.Select(m => (m.Sequence, m.Timestamp)), restoredA.Select(m => (m.Sequence, m.Timestamp)));
            Assert.Equal(messagesA.Select(m => m.EnvelopeJson.ToArray()), restoredA.Select(m => m.EnvelopeJson.ToArray()));
            Assert.Equal(21, restored.GetFirstStoredSequence(a));
            Assert.Empty(await ReadAllAsync(restored, gone));
            Assert.Empty(messagesB);
        }
        Assert.False(Directory.Exists(backupDirectory + ".partial"));
    }

    [Fact]
    public async Task A_backup_into_a_non_empty_directory_is_refused()
    {
        using var dir = new TempStoreDirectory();
        var target = Path.Combine(dir.Path, "backups", "x");
        Directory.CreateDirectory(target);
        await File.WriteAllTextAsync(Path.Combine(target, "keep.txt"), "mine");
        var (store, _) = await OpenAsync(dir.Path);
        await using (store)
        {
            await Assert.ThrowsAsync<IOException>(async () => await store.BackupAsync(target, default));
            Assert.Equal("mine", await File.ReadAllTextAsync(Path.Combine(target, "keep.txt")));
        }
    }

    [Fact]
    public void Pruning_keeps_the_newest_backups_and_removes_unfinished_ones()
    {
        using var dir = new TempStoreDirectory();
        var root = Path.Combine(dir.Path, "backups");
        var names = Enumerable.Range(0, 5).Select(i => FasterChannelStore.GetBackupDirectory(dir.Path, T0.AddHours(24 * i))).ToList();
        foreach (var name in names)
        {
            Directory.CreateDirectory(name);
        }
        Directory.CreateDirectory(names[4] + "-next.partial");

        var deleted = FasterChannelStore.PruneBackups(root, keep: 3);

        Assert.Equal(3, deleted.Count);
        Assert.Equal(names.Skip(2), Directory.GetDirectories(root).Order(StringComparer.Ordinal));
        Assert.Empty(FasterChannelStore.PruneBackups(Path.Combine(dir.Path, "missing"), keep: 3));
    }
}
