#if EMITHUB_TEST_HOOKS
using FASTER.core;

namespace EmitHub.Core.Storage;

/// <summary>
/// Test hook (compiled only into non-published builds, see <c>EMITHUB_TEST_HOOKS</c> in EmitHub.Core.csproj): a
/// FASTER device that holds every write while a marker file exists, as a disk that stops answering would. Reads,
/// truncation and everything else go straight to the wrapped device. Held writes are issued, in order, once the file
/// is gone. Enabled by <c>EMITHUB_TEST_STORE_STALL_FILE</c> (see <see cref="FasterChannelStoreOptions.StallWritesWhileFileExists"/>).
/// </summary>
internal sealed class StallingLogDevice : IDevice
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);

    private readonly IDevice _inner;
    private readonly string _stallFile;
    private readonly Queue<Action> _held = new();
    private readonly Lock _lock = new();
    private readonly Timer _timer;

    public StallingLogDevice(IDevice inner, string stallFile)
    {
        _inner = inner;
        _stallFile = stallFile;
        _timer = new Timer(_ => ReleaseIfResumed(), null, Poll, Poll);
    }

    public uint SectorSize => _inner.SectorSize;
    public string FileName => _inner.FileName;
    public long Capacity => _inner.Capacity;
    public long SegmentSize => _inner.SegmentSize;
    public int StartSegment => _inner.StartSegment;
    public int EndSegment => _inner.EndSegment;
    public int ThrottleLimit { get => _inner.ThrottleLimit; set => _inner.ThrottleLimit = value; }

    public void Initialize(long segmentSize, LightEpoch epoch = null!, bool omitSegmentIdFromFilename = false) =>
        _inner.Initialize(segmentSize, epoch, omitSegmentIdFromFilename);

    public bool TryComplete() => _inner.TryComplete();
    public bool Throttle() => _inner.Throttle();

    public void WriteAsync(IntPtr sourceAddress, int segmentId, ulong destinationAddress, uint numBytesToWrite, DeviceIOCompletionCallback callback, object context) =>
        WriteOrHold(() => _inner.WriteAsync(sourceAddress, segmentId, destinationAddress, numBytesToWrite, callback, context));

    public void WriteAsync(IntPtr alignedSourceAddress, ulong alignedDestinationAddress, uint numBytesToWrite, DeviceIOCompletionCallback callback, object context) =>
        WriteOrHold(() => _inner.WriteAsync(alignedSourceAddress, alignedDestinationAddress, numBytesToWrite, callback, context));

    public void ReadAsync(int segmentId, ulong sourceAddress, IntPtr destinationAddress, uint readLength, DeviceIOCompletionCallback callback, object context) =>
        _inner.ReadAsync(segmentId, sourceAddress, destinationAddress, readLength, callback, context);

    public void ReadAsync(ulong alignedSourceAddress, IntPtr alignedDestinationAddress, uint alignedReadLength, DeviceIOCompletionCallback callback, object context) =>
        _inner.ReadAsync(alignedSourceAddress, alignedDestinationAddress, alignedReadLength, callback, context);

    public void TruncateUntilAddressAsync(long toAddress, AsyncCallback callback, IAsyncResult result) => _inner.TruncateUntilAddressAsync(toAddress, callback, result);
    public void TruncateUntilAddress(long toAddress) => _inner.TruncateUntilAddress(toAddress);
    public void TruncateUntilSegmentAsync(int toSegment, AsyncCallback callback, IAsyncResult result) => _inner.TruncateUntilSegmentAsync(toSegment, callback, result);
    public void TruncateUntilSegment(int toSegment) => _inner.TruncateUntilSegment(toSegment);
    public void RemoveSegmentAsync(int segment, AsyncCallback callback, IAsyncResult result) => _inner.RemoveSegmentAsync(segment, callback, result);
    public void RemoveSegment(int segment) => _inner.RemoveSegment(segment);
    public long GetFileSize(int segment) => _inner.GetFileSize(segment);
    public void Reset() => _inner.Reset();

    public void Dispose()
    {
        _timer.Dispose();
        ReleaseAll();
        _inner.Dispose();
    }

    private void WriteOrHold(Action write)
    {
        lock (_lock)
        {
            if (_held.Count > 0 || File.Exists(_stallFile))
            {
                _held.Enqueue(write);
                return;
            }
        }
        write();
    }

    private void ReleaseIfResumed()
    {
        if (!File.Exists(_stallFile))
        {
            ReleaseAll();
        }
    }

    private void ReleaseAll()
    {
        while (true)
        {
            Action? write;
            lock (_lock)
            {
                if (!_held.TryDequeue(out write))
                {
                    return;
                }
            }
            write();
        }
    }
}
#endif
