using System.Text;
using EmitHub.Core.Channels;
using EmitHub.Core.Storage;

namespace EmitHub.Tests.Storage;

/// <summary>A temporary store directory, deleted with everything in it on dispose.</summary>
internal sealed class TempStoreDirectory : IDisposable
{
    public TempStoreDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "emithub-store-" + Guid.NewGuid().ToString("N"));
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            if (Directory.Exists(Path))
            {
                Directory.Delete(Path, recursive: true);
            }
        }
        catch (IOException)
        {
        }
    }
}

internal static class StoreTestSupport
{
    /// <summary>Small pages and segments so tests cross page and segment boundaries with little data.</summary>
    public const int PageSizeBits = 14;

    public static FasterChannelStoreOptions Options(string path, long compactionMinBytes = -1) => new()
    {
        DirectoryPath = path,
        PageSizeBits = PageSizeBits,
        MemorySizeBits = PageSizeBits + 2,
        SegmentSizeBits = PageSizeBits + 1,
        CompactionMinBytes = compactionMinBytes,
    };

    public static async Task<(FasterChannelStore Store, StoreRecovery Recovery)> OpenAsync(string path, long compactionMinBytes = -1)
    {
        var store = new FasterChannelStore(Options(path, compactionMinBytes));
        var recovery = await store.RecoverAsync(CancellationToken.None);
        return (store, recovery);
    }

    public static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    public static ChannelRecord Channel(Guid id, string name = "lobby", ChannelStatus status = ChannelStatus.Active, bool persist = true,
        string? description = "Waiting room") =>
        new(id, name, description, status, T0, T0.AddMinutes(1), new ChannelSettings(250, true, persist, 60, 3), "epoch-" + name, 0, 0);

    public static StoredMessage Message(Guid channelId, long sequence, DateTimeOffset? timestamp = null) =>
        new(channelId, sequence, timestamp ?? T0.AddSeconds(sequence), Envelope(sequence));

    public static byte[] Envelope(long sequence) =>
        Encoding.UTF8.GetBytes($"{{\"status\":\"broadcast\",\"message\":\"now serving A{sequence:D4}\",\"sequence\":{sequence}}}");

    public static async Task<List<StoredMessage>> ReadAllAsync(IChannelStore store, Guid channelId)
    {
        var all = new List<StoredMessage>();
        long after = 0;
        while (true)
        {
            var page = await store.ReadMessagesAsync(channelId, after, 1000, CancellationToken.None);
            if (page.Count == 0)
            {
                return all;
            }
            all.AddRange(page);
            after = page[^1].Sequence;
        }
    }

    /// <summary>The highest-numbered FASTER segment file of the store (the log's tail).</summary>
    public static string LastSegmentFile(string storePath)
    {
        var files = Directory.GetFiles(System.IO.Path.Combine(storePath, "log"), "hub.log.*");
        return files.OrderBy(f => int.Parse(f[(f.LastIndexOf('.') + 1)..])).Last();
    }

    /// <summary>Bytes of all files under <paramref name="path"/>; FASTER deletes truncated segments in the
    /// background, so a file may vanish while we look.</summary>
    public static long DirectorySize(string path) =>
        new DirectoryInfo(path).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f =>
        {
            try
            {
                return f.Length;
            }
            catch (FileNotFoundException)
            {
                return 0;
            }
        });
}
