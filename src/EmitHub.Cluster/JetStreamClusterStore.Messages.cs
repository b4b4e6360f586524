using System.Globalization;
using EmitHub.Core.Cluster;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using StoredMessage = EmitHub.Core.Storage.StoredMessage;

namespace EmitHub.Cluster;

public sealed partial class JetStreamClusterStore
{
    /// <summary>Bytes kept free under max_payload for the publish's headers (Nats-Expected-Stream and the status line).</summary>
    private const int PublishHeaderAllowance = 256;

    /// <summary>One message as read from a channel's stream: its sequence, time and envelope JSON (sequence included).</summary>
    private readonly record struct StreamEntry(long Sequence, DateTimeOffset Timestamp, byte[] Envelope);

    /// <inheritdoc />
    public async ValueTask<ClusterAppend> AppendAsync(Guid channelId, ClusterEnvelopeFactory envelope, CancellationToken cancellationToken)
    {
        EnsureConnected();
        var timestamp = Now();
        var json = envelope(timestamp);
        // max_payload bounds payload plus headers; NATS would refuse the publish and the ack would time out, which
        // reads as "not confirmed" — but this refusal is certain and permanent, so it is answered as too large.
        if (_connection.ServerInfo is { MaxPayload: > 0 } info && json.Length + PublishHeaderAllowance > info.MaxPayload)
        {
            throw new ClusterMessageTooLargeException(json.Length, info.MaxPayload - PublishHeaderAllowance);
        }
        try
        {
            await EnsureStreamAsync(channelId, cancellationToken).ConfigureAwait(false);
            // ExpectedStream: a channel deleted meanwhile (its stream gone) is refused rather than re-created by a
            // stream that happens to match the subject.
            var ack = await _js.PublishAsync(Subject(channelId), json, s_raw, new NatsJSPubOpts { ExpectedStream = StreamOf(channelId) },
                cancellationToken: cancellationToken).ConfigureAwait(false);
            if (ack.Error is { } error)
            {
                throw new ClusterUnavailableException($"NATS JetStream refused the message ({error.Description})");
            }
            return new ClusterAppend((long)ack.Seq, timestamp);
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException)
        {
            throw new ClusterUnavailableException("NATS JetStream did not acknowledge the message", ex);
        }
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<StoredMessage>> ReadMessagesAsync(Guid channelId, long afterSequence, int limit, CancellationToken cancellationToken)
    {
        var entries = await ReadEntriesAsync(channelId, afterSequence, limit, cancellationToken).ConfigureAwait(false);
        var messages = new List<StoredMessage>(entries.Count);
        foreach (var entry in entries)
        {
            messages.Add(new StoredMessage(channelId, entry.Sequence, entry.Timestamp, entry.Envelope));
        }
        return messages;
    }

    /// <inheritdoc />
    public async ValueTask<long> GetFirstSequenceAsync(Guid channelId, CancellationToken cancellationToken)
    {
        var (first, last) = await GetBoundsAsync(channelId, cancellationToken).ConfigureAwait(false);
        var sequence = first <= last ? first : 0;
        _firstSequences[channelId] = sequence;
        return sequence;
    }

    /// <summary>
    /// Messages of the channel with sequence &gt; <paramref name="afterSequence"/>, oldest first, at most
    /// <paramref name="limit"/>: an ordered consumer on the channel's stream from the first wanted sequence (or the
    /// first still stored, when retention removed older ones).
    /// </summary>
    private async ValueTask<List<StreamEntry>> ReadEntriesAsync(Guid channelId, long afterSequence, int limit, CancellationToken cancellationToken)
    {
        var result = new List<StreamEntry>();
        try
        {
            var (first, last) = await GetBoundsAsync(channelId, cancellationToken).ConfigureAwait(false);
            _firstSequences[channelId] = first <= last ? first : 0;
            var start = Math.Max(afterSequence + 1, first);
            if (limit <= 0 || last < start)
            {
                return result;
            }
            var wanted = (int)Math.Min(limit, last - start + 1);
            var consumer = await _js.CreateOrderedConsumerAsync(StreamOf(channelId), new NatsJSOrderedConsumerOpts
            {
                DeliverPolicy = ConsumerConfigDeliverPolicy.ByStartSequence,
                OptStartSeq = (ulong)start,
            }, cancellationToken).ConfigureAwait(false);
            var fetch = new NatsJSFetchOpts { MaxMsgs = wanted, Expires = TimeSpan.FromSeconds(5) };
            await foreach (var message in consumer.FetchAsync(fetch, s_raw, cancellationToken).ConfigureAwait(false))
            {
                var entry = ToEntry(message.Metadata, message.Data);
                if (result.Count == 0 || entry.Sequence > result[^1].Sequence)
                {
                    result.Add(entry);
                }
                if (result.Count >= wanted || entry.Sequence >= last)
                {
                    break;
                }
            }
            return result;
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException)
        {
            throw new ClusterUnavailableException("NATS JetStream could not be read", ex);
        }
    }

    /// <summary>First and last sequence held by the channel's stream (first = last + 1 when it holds none).</summary>
    private async ValueTask<(long First, long Last)> GetBoundsAsync(Guid channelId, CancellationToken cancellationToken)
    {
        var stream = await EnsureStreamAsync(channelId, cancellationToken).ConfigureAwait(false);
        await stream.RefreshAsync(cancellationToken).ConfigureAwait(false);
        var state = stream.Info.State;
        return ((long)state.FirstSeq, (long)state.LastSeq);
    }

    /// <summary>
    /// The channel's stream, created on first use (idempotent: every node may create it with the same settings).
    /// Limits from <c>[persistence]</c>, replicas from <c>[cluster]</c>.
    /// </summary>
    private async ValueTask<INatsJSStream> EnsureStreamAsync(Guid channelId, CancellationToken cancellationToken)
    {
        if (_streams.TryGetValue(channelId, out var known))
        {
            return known;
        }
        var stream = await _js.CreateOrUpdateStreamAsync(new StreamConfig(StreamOf(channelId), [Subject(channelId)])
        {
            Storage = StreamConfigStorage.File,
            NumReplicas = _cluster.StreamReplicas,
            MaxAge = TimeSpan.FromDays(_persistence.MessageRetentionDays),
            MaxMsgs = _persistence.MaxMessagesPerChannel,
            Discard = StreamConfigDiscard.Old,
        }, cancellationToken).ConfigureAwait(false);
        return _streams.GetOrAdd(channelId, stream);
    }

    /// <summary>The stored envelope has no <c>sequence</c> (the stream gives it): it is added as the last member.</summary>
    private static StreamEntry ToEntry(NatsJSMsgMetadata? metadata, byte[]? data)
    {
        var sequence = (long)(metadata?.Sequence.Stream ?? 0);
        var json = data ?? "{}"u8.ToArray();
        var suffix = string.Create(CultureInfo.InvariantCulture, $",\"sequence\":{sequence}}}");
        var envelope = new byte[json.Length - 1 + suffix.Length];
        json.AsSpan(0, json.Length - 1).CopyTo(envelope);
        System.Text.Encoding.ASCII.GetBytes(suffix, envelope.AsSpan(json.Length - 1));
        return new StreamEntry(sequence, metadata?.Timestamp ?? default, envelope);
    }
}
