using Microsoft.Win32.SafeHandles;

namespace EmitHub.Core.Storage;

/// <summary>
/// Reads FASTER log addresses straight from the segment files (<c>&lt;name&gt;.N</c>, N = address &gt;&gt;
/// segmentSizeBits), for recovery's own scan. Bytes a file does not have (cut short, missing) read as zero, which
/// the scan treats as damage. Read-only; opened with sharing so FASTER's own handles are unaffected.
/// </summary>
internal sealed class SegmentFileReader(string directory, string baseName, int segmentSizeBits) : IDisposable
{
    private readonly Dictionary<long, SafeFileHandle?> _files = new();

    /// <summary>Fills <paramref name="destination"/> with the bytes at log address <paramref name="address"/>; the
    /// range must not cross a segment (a FASTER page never does).</summary>
    public void Read(long address, Span<byte> destination)
    {
        destination.Clear();
        var segment = address >> segmentSizeBits;
        var offset = address & ((1L << segmentSizeBits) - 1);
        if (!_files.TryGetValue(segment, out var handle))
        {
            var path = Path.Combine(directory, $"{baseName}.{segment}");
            handle = File.Exists(path) ? File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete) : null;
            _files[segment] = handle;
        }
        if (handle is null)
        {
            return;
        }
        var done = 0;
        while (done < destination.Length)
        {
            var read = RandomAccess.Read(handle, destination[done..], offset + done);
            if (read <= 0)
            {
                return;
            }
            done += read;
        }
    }

    public void Dispose()
    {
        foreach (var handle in _files.Values)
        {
            handle?.Dispose();
        }
        _files.Clear();
    }
}
