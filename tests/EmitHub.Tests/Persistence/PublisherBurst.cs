using System.Collections.Concurrent;
using System.Net;

namespace EmitHub.Tests.Persistence;

/// <summary>
/// Several concurrent REST publishers on one channel, each sending <c>p{publisher}-{index}</c> one after the other
/// until it has sent its share or the server stops answering 200 (killed, stopping). Records every 200 it got.
/// </summary>
internal sealed class PublisherBurst
{
    private readonly ConcurrentQueue<(int Publisher, int Index, Ack Ack)> _acks = new();
    private readonly ConcurrentQueue<string> _endings = new();
    private readonly List<(int Threshold, TaskCompletionSource Reached)> _waiters = [];
    private int _count;

    private PublisherBurst()
    {
    }

    /// <summary>All publishers have stopped.</summary>
    public Task Completion { get; private set; } = Task.CompletedTask;

    /// <summary>How each publisher stopped: "done" when it sent its whole share, else the error it met.</summary>
    public IReadOnlyCollection<string> Endings => _endings;

    public IReadOnlyList<(int Publisher, int Index, Ack Ack)> Acks => _acks.ToList();

    public static PublisherBurst Start(HttpClient http, string channelId, int publishers, int perPublisher, string prefix = "p")
    {
        var burst = new PublisherBurst();
        var tasks = new Task[publishers];
        for (var p = 0; p < publishers; p++)
        {
            var publisher = p;
            tasks[p] = Task.Run(() => burst.PublishAsync(http, channelId, publisher, perPublisher, prefix));
        }
        burst.Completion = Task.WhenAll(tasks);
        return burst;
    }

    /// <summary>Completes once <paramref name="count"/> broadcasts were acknowledged (or every publisher stopped,
    /// which the caller checks via <see cref="Acks"/>).</summary>
    public Task AcknowledgedAsync(int count)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiters)
        {
            if (Volatile.Read(ref _count) >= count)
            {
                return Task.CompletedTask;
            }
            _waiters.Add((count, tcs));
        }
        return Task.WhenAny(tcs.Task, Completion);
    }

    private async Task PublishAsync(HttpClient http, string channelId, int publisher, int perPublisher, string prefix)
    {
        for (var i = 0; i < perPublisher; i++)
        {
            HttpStatusCode status;
            Ack? ack;
            string body;
            try
            {
                (status, ack, body) = await ServerProcess.TryBroadcastAsync(http, channelId, $"{prefix}{publisher}-{i}");
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException)
            {
                _endings.Enqueue($"publisher {publisher} after {i}: {ex.GetType().Name}");
                return;
            }
            if (ack is null)
            {
                _endings.Enqueue($"publisher {publisher} after {i}: HTTP {(int)status} {body}");
                return;
            }
            _acks.Enqueue((publisher, i, ack));
            var count = Interlocked.Increment(ref _count);
            lock (_waiters)
            {
                for (var w = _waiters.Count - 1; w >= 0; w--)
                {
                    if (count >= _waiters[w].Threshold)
                    {
                        _waiters[w].Reached.TrySetResult();
                        _waiters.RemoveAt(w);
                    }
                }
            }
        }
        _endings.Enqueue("done");
    }
}
