using EmitHub.Core.Channels;
using EmitHub.Core.Configuration;
using EmitHub.Core.Storage;
using EmitHub.Net.WebSockets;
using EmitHub.Tests.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace EmitHub.Tests.Persistence;

/// <summary>
/// <c>auto_backup</c> (SPEC §5) → a real server started with <c>db_path</c> = the backup. Nothing outside the
/// process triggers a backup and <c>backup_interval_hours</c> is at least 1, so the backup is taken in-process by
/// <see cref="StoreMaintenance"/> on a fake clock over the store the server itself uses (default FASTER sizes).
/// </summary>
[Collection(PersistenceProcessCollection.Name)]
public sealed class BackupRestoreTests : PersistenceTestBase
{
    public BackupRestoreTests(ITestOutputHelper output)
        : base(output)
    {
    }

    [Fact]
    public async Task A_scheduled_backup_is_a_store_a_real_server_starts_from_with_channels_and_history()
    {
        var dbPath = Path.Combine(Root, "db");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = new EmitHubOptions { DbPath = dbPath };
        options.Persistence.AutoBackup = true;
        options.Persistence.BackupIntervalHours = 1;
        var live = new LiveOptions(options);

        string backup;
        List<string> contents;
        ChannelSnapshot[] channels;
        var store = new FasterChannelStore(new FasterChannelStoreOptions { DirectoryPath = dbPath });
        await using (store)
        {
            var registry = new ChannelRegistry(live, store, WebSocketFrameEncoder.Instance, time, NullLogger<ChannelRegistry>.Instance);
            await registry.InitializeAsync(default);
            var turnos = await ChannelTestKit.CreateAsync(registry,
                """{"name":"Turnos","description":"Sala 2","settings":{"persist_messages":true,"rate_limit_per_minute":0,"replay_last":1}}""");
            Assert.True((await registry.StartAsync(turnos.Id, default)).IsSuccess);
            contents = Enumerable.Range(1, 40).Select(i => $"A{i:D3}").ToList();
            foreach (var content in contents)
            {
                Assert.True((await registry.BroadcastAsync(turnos.Id, ChannelTestKit.Broadcast(content), default)).IsSuccess);
            }
            var alertas = await ChannelTestKit.CreateAsync(registry, """{"name":"Alertas","settings":{"persist_messages":false}}""");
            Assert.True((await registry.StartAsync(alertas.Id, default)).IsSuccess);
            Assert.True((await registry.PauseAsync(alertas.Id, default)).IsSuccess);
            var doomed = await ChannelTestKit.CreateAsync(registry, """{"name":"Borrado"}""");
            Assert.True((await registry.DeleteAsync(doomed.Id, default)).IsSuccess);
            channels = registry.List().ToArray();

            var maintenance = new StoreMaintenance(registry, live, time, NullLogger<StoreMaintenance>.Instance);
            Assert.Null(await maintenance.RunOnceAsync(default));
            time.Advance(TimeSpan.FromHours(1));
            backup = (await maintenance.RunOnceAsync(default))!;
            Assert.NotNull(backup);
            Assert.Equal(Path.Combine(dbPath, "backups"), Path.GetDirectoryName(backup));

            // After the snapshot: neither may appear in the backup.
            Assert.True((await registry.BroadcastAsync(turnos.Id, ChannelTestKit.Broadcast("after-backup"), default)).IsSuccess);
            await ChannelTestKit.CreateAsync(registry, """{"name":"Después del backup"}""");
            await registry.ShutdownAsync(default);
            await registry.DisposeAsync();
        }

        var restored = new ServerProcess(backup, Root);
        await using (restored)
        {
            await restored.StartAsync();
            var listed = await restored.ListChannelsAsync();
            Assert.Equal(channels.Select(c => c.Id.ToString()), listed.Select(c => c.GetProperty("id").GetString()));
            Assert.Equal(channels.Select(c => c.Name), listed.Select(c => c.GetProperty("name").GetString()));
            Assert.Equal(["Active", "Paused"], listed.Select(c => c.GetProperty("status").GetString()));
            Assert.Equal("Sala 2", listed[0].GetProperty("description").GetString());
            Assert.True(listed[0].GetProperty("settings").GetProperty("persist_messages").GetBoolean());
            Assert.Equal(1, listed[0].GetProperty("settings").GetProperty("replay_last").GetInt32());

            var id = channels[0].Id.ToString();
            var history = await restored.GetHistoryAsync(id);
            Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), history.Select(e => e.GetProperty("sequence").GetInt64()));
            Assert.Equal(contents, history.Select(e => e.GetProperty("message").GetString()));
            Assert.Equal(41, (await restored.BroadcastAsync(id, "A041")).Sequence);
            Assert.Equal(0, await restored.StopAsync());
        }
    }
}
