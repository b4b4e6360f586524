using System.Globalization;
using System.Text;
using EmitHub.Core.Cluster;
using EmitHub.Core.Storage;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using StoredMessage = EmitHub.Core.Storage.StoredMessage;
using NatsStoredMessage = NATS.Client.JetStream.Models.StoredMessage;

namespace EmitHub.Cluster;

public sealed partial class JetStreamClusterStore
{
    /// <summary>What this node knows of a channel's tail, to append after it; one append at a time per channel per node.</summary>
    private sealed class ChannelAppender
    {
        public readonly SemaphoreSlim Gate = new(1, 1);
        public volatile bool Known;
        public ulong LastStreamSequence;
        public long LastSequence;
    }

    /// <summary>One message as read from the stream: its stream sequence, channel sequence and envelope JSON.</summary>
    private readonly record struct StreamEntry(ulong StreamSequence, long Sequence, DateTimeOffset Timestamp, byte[] Envelope);

    /// <inheritdoc />
    public async ValueTask<ClusterAppend> AppendAsync(Guid channelId, ClusterEnvelopeFactory envelope, CancellationToken cancellationToken)
    {
        EnsureConnected();
        var appender = _appenders.GetOrAdd(channelId, static _ => new ChannelAppender());
        await appender.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var subject = Subject(channelId);
            for (var attempt = 0; attempt < MaxAppendAttempts; attempt++)
            {
                if (!appender.Known)
                {
                    var last = await GetLastAsync(channelId, cancellationToken).ConfigureAwait(false);
                    appender.LastStreamSequence = last.StreamSequence;
                    appender.LastSequence = last.Sequence;
                    appender.Known = true;
                }
                var sequence = appender.LastSequence + 1;
                var timestamp = Now();
                var json = envelope(sequence, timestamp).ToArray();
                var headers = new NatsHeaders { [SequenceHeader] = sequence.ToString(CultureInfo.InvariantCulture) };
                var options = new NatsJSPubOpts { ExpectedLastSubjectSequence = appender.LastStreamSequence };
                PubAckResponse ack;
                try
                {
                    ack = await _js.PublishAsync(subject, json, s_raw, options, headers, cancellationToken).ConfigureAwait(false);
                }
                catch (NatsJSApiException ex) when (ex.Error.ErrCode == WrongLastSequenceErrCode)
                {
                    appender.Known = false;
                    continue;
                }
                catch (Exception ex) when (ex is NatsException or TimeoutException)
                {
                    // The message may or may not be stored: re-read the tail before the next append.
                    appender.Known = false;
                    throw new ClusterUnavailableException("NATS JetStream did not acknowledge the message", ex);
                }
                if (ack.Error is { } error)
                {
                    appender.Known = false;
                    if (error.ErrCode == WrongLastSequenceErrCode)
                    {
                        continue;
                    }
                    throw new ClusterUnavailableException($"NATS JetStream refused the message ({error.Description})");
                }
                appender.LastStreamSequence = ack.Seq;
                appender.LastSequence = sequence;
                return new ClusterAppend(sequence, timestamp);
            }
            throw new ClusterUnavailableException($"other nodes kept appending to the channel first ({MaxAppendAttempts} tries)");
        }
        finally
        {
            appender.Gate.Release();
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
        var first = await GetNextAsync(channelId, 1, cancellationToken).ConfigureAwait(false);
        var sequence = first?.Sequence ?? 0;
        _firstSequences[channelId] = sequence;
        return sequence;
    }

    /// <summary>
    /// Messages of the channel with sequence &gt; <paramref name="afterSequence"/>, oldest first, at most
    /// <paramref name="limit"/>. Finds the first by a binary search over stream sequences (each probe one
    /// "next message on this subject from stream sequence N" request to the stream leader), then reads on with an
    /// ordered consumer filtered to the channel's subject.
    /// </summary>
    private async ValueTask<List<StreamEntry>> ReadEntriesAsync(Guid channelId, long afterSequence, int limit, CancellationToken cancellationToken)
    {
        var result = new List<StreamEntry>();
        if (limit <= 0)
        {
            return result;
        }
        try
        {
            var last = await GetLastAsync(channelId, cancellationToken).ConfigureAwait(false);
            if (last.Sequence <= afterSequence || last.StreamSequence == 0)
            {
                return result;
            }
            var start = await FindFirstAfterAsync(channelId, afterSequence, last.StreamSequence, cancellationToken).ConfigureAwait(false);
            if (start is not { } first)
            {
                return result;
            }
            var wanted = (int)Math.Min(limit, last.Sequence - first.Sequence + 1);
            result.Add(first);
            if (wanted == 1)
            {
                return result;
            }
            var consumer = await _js.CreateOrderedConsumerAsync(StreamName, new NatsJSOrderedConsumerOpts
            {
                FilterSubjects = [Subject(channelId)],
                DeliverPolicy = ConsumerConfigDeliverPolicy.ByStartSequence,
                OptStartSeq = first.StreamSequence + 1,
            }, cancellationToken).ConfigureAwait(false);
            var fetch = new NatsJSFetchOpts { MaxMsgs = wanted - 1, Expires = TimeSpan.FromSeconds(5) };
            await foreach (var message in consumer.FetchAsync(fetch, s_raw, cancellationToken).ConfigureAwait(false))
            {
                var entry = ToEntry(message.Headers, message.Metadata?.Sequence.Stream ?? 0, message.Metadata?.Timestamp, message.Data);
                if (entry.Sequence > result[^1].Sequence)
                {
                    result.Add(entry);
                }
                if (result.Count >= wanted || entry.Sequence >= last.Sequence)
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

    /// <summary>The first stored message of the channel with a sequence above <paramref name="afterSequence"/>, or null.</summary>
    private async ValueTask<StreamEntry?> FindFirstAfterAsync(Guid channelId, long afterSequence, ulong lastStreamSequence, CancellationToken cancellationToken)
    {
        var first = await GetNextAsync(channelId, 1, cancellationToken).ConfigureAwait(false);
        if (first is not { } firstEntry)
        {
            return null;
        }
        _firstSequences[channelId] = firstEntry.Sequence;
        if (firstEntry.Sequence > afterSequence)
        {
            return firstEntry;
        }
        // f(s) = the channel's first message at stream sequence ≥ s is monotone in s. Invariant: f(lo) does not
        // qualify, f(hi) does (f(last) is the last message, and afterSequence < its sequence).
        var lo = firstEntry.StreamSequence;
        var hi = lastStreamSequence;
        while (hi - lo > 1)
        {
            var mid = lo + ((hi - lo) / 2);
            var probe = await GetNextAsync(channelId, mid, cancellationToken).ConfigureAwait(false);
            if (probe is not { } found)
            {
                return null;
            }
            if (found.Sequence > afterSequence)
            {
                hi = mid;
            }
            else
            {
                // Every stream sequence up to this message's leads to it or an earlier one: none qualifies.
                lo = found.StreamSequence;
            }
        }
        return await GetNextAsync(channelId, hi, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The channel's last stored message: its stream and channel sequences, (0, floor) when none is stored.</summary>
    private async ValueTask<(ulong StreamSequence, long Sequence)> GetLastAsync(Guid channelId, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _stream!.GetAsync(new StreamMsgGetRequest { LastBySubj = Subject(channelId) }, cancellationToken).ConfigureAwait(false);
            var entry = ToEntry(response.Message);
            return (entry.StreamSequence, entry.Sequence);
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == 404)
        {
            return (0, 0);
        }
    }

    /// <summary>The first message of the channel at stream sequence ≥ <paramref name="fromStreamSequence"/>, or null.</summary>
    private async ValueTask<StreamEntry?> GetNextAsync(Guid channelId, ulong fromStreamSequence, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _stream!.GetAsync(new StreamMsgGetRequest { Seq = fromStreamSequence, NextBySubj = Subject(channelId) }, cancellationToken).ConfigureAwait(false);
            return ToEntry(response.Message);
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == 404)
        {
            return null;
        }
    }

    private static StreamEntry ToEntry(NatsStoredMessage message)
    {
        // The stream API returns the headers base64-encoded as written: "NATS/1.0\r\nName: value\r\n…".
        long sequence = 0;
        if (message.Hdrs is { Length: > 0 } encoded)
        {
            var text = Encoding.ASCII.GetString(Convert.FromBase64String(encoded));
            foreach (var line in text.Split("\r\n"))
            {
                var colon = line.IndexOf(':');
                if (colon > 0 && line.AsSpan(0, colon).Equals(SequenceHeader, StringComparison.OrdinalIgnoreCase))
                {
                    sequence = long.Parse(line.AsSpan(colon + 1).Trim(), NumberStyles.None, CultureInfo.InvariantCulture);
                }
            }
        }
        return new StreamEntry(message.Seq, sequence, message.Time, message.Data.ToArray());
    }

    private static StreamEntry ToEntry(NatsHeaders? headers, ulong streamSequence, DateTimeOffset? timestamp, byte[]? data)
    {
        long sequence = 0;
        if (headers is not null && headers.TryGetValue(SequenceHeader, out var values))
        {
            sequence = long.Parse(values.ToString(), NumberStyles.None, CultureInfo.InvariantCulture);
        }
        return new StreamEntry(streamSequence, sequence, timestamp ?? default, data ?? []);
    }
}
