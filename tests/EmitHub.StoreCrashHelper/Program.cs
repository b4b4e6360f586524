using System.Text;
using EmitHub.Core.Channels;
using EmitHub.Core.Storage;

// Usage: EmitHub.StoreCrashHelper <db_path> <channel-guid> <appenders> <page-size-bits>
// Recovers the store, saves the channel if missing, then appends messages forever from several concurrent
// appenders (sequence assigned and enqueued under one lock, as the channel registry does) and writes
// "ack <sequence>" to stdout once each append's commit completed. The parent kills it with SIGKILL.
var dbPath = args[0];
var channelId = Guid.Parse(args[1]);
var appenders = int.Parse(args[2]);
var pageSizeBits = int.Parse(args[3]);

var store = new FasterChannelStore(new FasterChannelStoreOptions
{
    DirectoryPath = dbPath,
    PageSizeBits = pageSizeBits,
    MemorySizeBits = pageSizeBits + 2,
    SegmentSizeBits = pageSizeBits + 1,
});
var recovery = await store.RecoverAsync(CancellationToken.None);
foreach (var warning in recovery.Warnings)
{
    Console.Error.WriteLine("warning: " + warning);
}
if (!recovery.Channels.Any(c => c.Id == channelId))
{
    var now = DateTimeOffset.UtcNow;
    await store.SaveChannelAsync(new ChannelRecord(channelId, "crash", null, ChannelStatus.Active, now, now,
        new ChannelSettings(1000, false, true, 0, 0), "epoch-1", 0, 0), CancellationToken.None);
}
var sequence = recovery.LastSequences.GetValueOrDefault(channelId);
var gate = new Lock();
var stdout = Console.Out;
Console.WriteLine("ready " + sequence);

var tasks = Enumerable.Range(0, appenders).Select(_ => Task.Run(async () =>
{
    while (true)
    {
        ValueTask commit;
        long mine;
        lock (gate)
        {
            mine = ++sequence;
            var json = Encoding.UTF8.GetBytes($"{{\"status\":\"broadcast\",\"message\":\"m{mine}\",\"sequence\":{mine}}}");
            commit = store.AppendMessageAsync(new StoredMessage(channelId, mine, DateTimeOffset.UtcNow, json), CancellationToken.None);
        }
        await commit;
        lock (stdout)
        {
            stdout.WriteLine("ack " + mine);
            stdout.Flush();
        }
    }
})).ToArray();
await Task.WhenAll(tasks);
