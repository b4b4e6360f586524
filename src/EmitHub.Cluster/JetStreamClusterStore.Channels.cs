using EmitHub.Core.Cluster;
using EmitHub.Core.Storage;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.KeyValueStore;

namespace EmitHub.Cluster;

public sealed partial class JetStreamClusterStore
{
    /// <inheritdoc />
    public async ValueTask<ulong> PutChannelAsync(ChannelRecord record, ulong expectedRevision, CancellationToken cancellationToken)
    {
        EnsureConnected();
        var key = record.Id.ToString("N");
        var value = ClusterChannelDocument.From(record).ToUtf8();
        try
        {
            return expectedRevision == 0
                ? await _kv!.CreateAsync(key, value, s_raw, cancellationToken).ConfigureAwait(false)
                : await _kv!.UpdateAsync(key, value, expectedRevision, s_raw, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsKVWrongLastRevisionException or NatsKVCreateException)
        {
            throw new ClusterConflictException($"Channel {record.Id} was changed by another node.");
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException)
        {
            throw new ClusterUnavailableException("NATS did not acknowledge the channel change", ex);
        }
    }

    /// <inheritdoc />
    public async ValueTask RemoveChannelAsync(Guid channelId, CancellationToken cancellationToken)
    {
        EnsureConnected();
        try
        {
            await _kv!.DeleteAsync(channelId.ToString("N"), cancellationToken: cancellationToken).ConfigureAwait(false);
            // The channel's messages go with it (SPEC: "its stored data is dropped").
            try
            {
                await _js.DeleteStreamAsync(StreamOf(channelId), cancellationToken).ConfigureAwait(false);
            }
            catch (NatsJSApiException ex) when (ex.Error.ErrCode == StreamNotFoundErrCode)
            {
                // Never published to, or another node deleted it first.
            }
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException)
        {
            throw new ClusterUnavailableException("NATS did not acknowledge the deletion", ex);
        }
        ForgetChannel(channelId);
    }

    /// <summary>
    /// Watches the bucket from the revision after recovery and hands every change to the sink, in order. A watch
    /// that breaks (NATS restarted, connection lost) resumes after the last revision it delivered.
    /// </summary>
    private async Task WatchChannelsAsync(CancellationToken cancellationToken)
    {
        var next = _recoveredBucketRevision + 1;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var options = new NatsKVWatchOpts { ResumeAtRevision = next, IdleHeartbeat = TimeSpan.FromSeconds(2) };
                await foreach (var entry in _kv!.WatchAsync(s_raw, options, cancellationToken).ConfigureAwait(false))
                {
                    if (entry.Revision < next)
                    {
                        continue;
                    }
                    next = entry.Revision + 1;
                    if (!Guid.TryParseExact(entry.Key, "N", out var id))
                    {
                        continue;
                    }
                    if (entry.Operation is NatsKVOperation.Del or NatsKVOperation.Purge)
                    {
                        ForgetChannel(id);
                        _sink!.OnChannelDeleted(id);
                    }
                    else if (entry.Value is { } value)
                    {
                        _sink!.OnChannelChanged(ClusterChannelDocument.Parse(value).ToRecord(), entry.Revision);
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogFeedInterrupted(next, ex);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
