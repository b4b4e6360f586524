using System.Diagnostics;
using EmitHub.Core.Storage;
using static EmitHub.Tests.Storage.StoreTestSupport;

namespace EmitHub.Tests.Storage;

/// <summary>Damaged logs (torn or zero-filled tail, SIGKILL mid-burst): the store recovers to the last good record.</summary>
public sealed class FasterChannelStoreRecoveryTests
{
    private const int Written = 300;

    private static async Task<Guid> WriteMessagesAsync(string path)
    {
        var id = Guid.NewGuid();
        var (store, _) = await OpenAsync(path);
        await using (store)
        {
            await store.SaveChannelAsync(Channel(id), default);
            for (var seq = 1; seq <= Written; seq++)
            {
                await store.AppendMessageAsync(Message(id, seq), default);
            }
        }
        return id;
    }

    /// <summary>Recovers the damaged store, checks it kept a gap-free prefix and warned, appends after it, restarts
    /// again and checks nothing of the second session is lost and the damage is gone.</summary>
    private static async Task AssertRecoversToLastGoodRecordAsync(string path, Guid id)
    {
        long kept;
        var (store, recovery) = await OpenAsync(path);
        await using (store)
        {
            var warning = Assert.Single(recovery.Warnings);
            Assert.Contains("torn or corrupt log tail", warning);
            Assert.True(store.IsHealthy);
            Assert.Single(recovery.Channels);
            var messages = await ReadAllAsync(store, id);
            kept = messages.Count;
            Assert.InRange(kept, Written - 100, Written - 1);
            Assert.Equal(Enumerable.Range(1, (int)kept).Select(i => (long)i), messages.Select(m => m.Sequence));
            Assert.All(messages, m => Assert.Equal(Envelope(m.Sequence), m.EnvelopeJson.ToArray()));
            Assert.Equal(kept, recovery.LastSequences[id]);
            for (var seq = kept + 1; seq <= kept + 50; seq++)
            {
                await store.AppendMessageAsync(Message(id, seq), default);
            }
        }

        var (again, second) = await OpenAsync(path);
        await using (again)
        {
            Assert.Empty(second.Warnings);
            Assert.Equal(kept + 50, second.LastSequences[id]);
            Assert.Equal(Enumerable.Range(1, (int)kept + 50).Select(i => (long)i), (await ReadAllAsync(again, id)).Select(m => m.Sequence));
        }
    }

    [Fact]
    public async Task A_log_cut_short_recovers_to_the_last_good_record_with_a_warning_and_accepts_appends()
    {
        using var dir = new TempStoreDirectory();
        var id = await WriteMessagesAsync(dir.Path);
        var segment = LastSegmentFile(dir.Path);
        using (var file = new FileStream(segment, FileMode.Open))
        {
            file.SetLength(file.Length - 1500);
        }
        await AssertRecoversToLastGoodRecordAsync(dir.Path, id);
    }

    [Fact]
    public async Task A_zero_filled_log_end_recovers_to_the_last_good_record_with_a_warning_and_accepts_appends()
    {
        using var dir = new TempStoreDirectory();
        var id = await WriteMessagesAsync(dir.Path);
        var segment = LastSegmentFile(dir.Path);
        using (var file = new FileStream(segment, FileMode.Open))
        {
            file.Position = file.Length - 1500;
            file.Write(new byte[1500]);
        }
        await AssertRecoversToLastGoodRecordAsync(dir.Path, id);
    }

    [Fact]
    public async Task A_flipped_byte_in_the_last_record_fails_its_checksum_and_is_dropped()
    {
        using var dir = new TempStoreDirectory();
        var id = await WriteMessagesAsync(dir.Path);
        var segment = LastSegmentFile(dir.Path);
        var bytes = await File.ReadAllBytesAsync(segment);
        // The last envelope's text is near the end of the written data; flip a byte inside "now serving".
        var marker = "now serving A0300"u8.ToArray();
        var at = bytes.AsSpan().LastIndexOf(marker);
        Assert.True(at > 0);
        bytes[at + 4] ^= 0x20;
        await File.WriteAllBytesAsync(segment, bytes);

        var (store, recovery) = await OpenAsync(dir.Path);
        await using (store)
        {
            Assert.Contains("checksum mismatch", Assert.Single(recovery.Warnings));
            Assert.Equal(Written - 1, recovery.LastSequences[id]);
        }
    }

    [Fact]
    public async Task Every_append_acknowledged_before_a_sigkill_is_present_after_recovery()
    {
        using var dir = new TempStoreDirectory();
        var id = Guid.NewGuid();
        var first = await RunAndKillHelperAsync(dir.Path, id, acknowledgements: 1500);
        var second = await RunAndKillHelperAsync(dir.Path, id, acknowledgements: 500);
        Assert.True(second.Min() > first.Max(), "the second run continues the sequence");

        var (store, recovery) = await OpenAsync(dir.Path);
        await using (store)
        {
            Assert.Equal(id, Assert.Single(recovery.Channels).Id);
            var stored = (await ReadAllAsync(store, id)).Select(m => m.Sequence).ToList();
            // No gap, no duplicate, in order, and every acknowledged sequence is there.
            Assert.Equal(Enumerable.Range(1, stored.Count).Select(i => (long)i), stored);
            Assert.True(stored.Count >= second.Max(), $"stored up to {stored.Count}, acknowledged up to {second.Max()}");
            Assert.Equal(stored.Count, recovery.LastSequences[id]);
        }
    }

    /// <summary>Starts the helper on the store, reads acknowledgements until <paramref name="acknowledgements"/>
    /// arrived, SIGKILLs it while it is still appending, and returns every sequence it acknowledged.</summary>
    private static async Task<List<long>> RunAndKillHelperAsync(string path, Guid id, int acknowledgements)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(HelperPath());
        start.ArgumentList.Add(path);
        start.ArgumentList.Add(id.ToString());
        start.ArgumentList.Add("8");
        start.ArgumentList.Add(PageSizeBits.ToString());
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var acked = new List<long>();
        var killed = false;
        // Guards against a hung helper only (no timing is asserted).
        using var hang = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        using var killOnHang = hang.Token.Register(() => process.Kill());
        while (await process.StandardOutput.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("ack ", StringComparison.Ordinal))
            {
                acked.Add(long.Parse(line.AsSpan(4)));
            }
            if (!killed && acked.Count >= acknowledgements)
            {
                process.Kill(); // SIGKILL on Unix
                killed = true;
            }
        }
        await process.WaitForExitAsync();
        Assert.False(hang.IsCancellationRequested, $"helper hung after {acked.Count} acknowledgements: " + await stderr);
        Assert.True(killed, "helper exited before it was killed: " + await stderr);
        Assert.Equal(137, process.ExitCode);
        return acked;
    }

    private static string HelperPath()
    {
        // tests/EmitHub.Tests/bin/<Configuration>/<tfm>/ -> tests/EmitHub.StoreCrashHelper/bin/<Configuration>/<tfm>/
        var baseDirectory = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var tfm = baseDirectory.Name;
        var configuration = baseDirectory.Parent!.Name;
        var tests = baseDirectory.Parent.Parent!.Parent!.Parent!.FullName;
        var path = Path.Combine(tests, "EmitHub.StoreCrashHelper", "bin", configuration, tfm, "EmitHub.StoreCrashHelper.dll");
        Assert.True(File.Exists(path), "crash helper not built at " + path);
        return path;
    }
}
