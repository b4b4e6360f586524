using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using EmitHub.Core.Channels;

namespace EmitHub.Core.Storage;

/// <summary>What one log entry holds (byte 1 of every record).</summary>
internal enum StoreRecordKind : byte
{
    /// <summary>The full <see cref="ChannelRecord"/> (create, patch, status change); the last one wins.</summary>
    ChannelUpsert = 1,
    /// <summary>A channel deletion; its messages become unreachable.</summary>
    ChannelDelete = 2,
    /// <summary>One stored message (<see cref="StoredMessage"/>).</summary>
    Message = 3,
    /// <summary>Retention watermark: messages of the channel with a sequence below it are gone.</summary>
    Trim = 4,
    /// <summary>Written first by a compaction; its log address is where the head is truncated to.</summary>
    Marker = 5,
    /// <summary>Sequences of the channel lost to damage found by a recovery (first, last): never handed out again,
    /// and a client resuming across them gets <c>recovered:false</c>.</summary>
    Gap = 6,
}

/// <summary>A decoded record. Only the fields of its <see cref="Kind"/> are set.</summary>
internal readonly struct StoreRecord
{
    public StoreRecordKind Kind { get; init; }
    public Guid ChannelId { get; init; }
    public ChannelRecord? Channel { get; init; }
    public long Sequence { get; init; }
    public long TimestampUtcTicks { get; init; }
    /// <summary>For <see cref="StoreRecordKind.Message"/>: offset and length of the envelope JSON inside the entry.</summary>
    public int PayloadOffset { get; init; }
    public int PayloadLength { get; init; }
    /// <summary>For <see cref="StoreRecordKind.Gap"/>: the last lost sequence (<see cref="Sequence"/> is the first).</summary>
    public long GapLast { get; init; }
}

/// <summary>
/// The on-disk record format, one FASTER log entry each (little-endian). FASTER frames each entry with a 4-byte
/// length and aligns it to 4 bytes; our record inside it (version 2) carries its own framing so recovery can find the
/// next record after damaged bytes without trusting FASTER's length:
/// <code>
/// [0..4)   magic "EHr2" (0x45 0x48 0x72 0x32)
/// [4..8)   record length in bytes (i32), equal to FASTER's entry length
/// [8]      version (2)
/// [9]      kind (StoreRecordKind)
/// [10..14) CRC-32C of every other byte of the record
/// [14..30) channel id (Guid, 16 bytes)
/// [30..)   kind-specific body:
///          Message: sequence i64, timestamp UTC ticks i64, envelope length i32, envelope bytes
///          Trim:    first kept sequence i64
///          Gap:     first lost sequence i64, last lost sequence i64
///          ChannelUpsert: name, description (flag + string), status, created_at, updated_at, settings, epoch, last sequence, messages sent (see <see cref="EncodeChannel"/>)
///          ChannelDelete, Marker: nothing
/// </code>
/// Version 1 records (no magic or length: version, kind, CRC at [2..6), channel id at [6..22), body at 22), written
/// before this format, are still read. The checksum lets recovery tell a good record from a torn, zero-filled or
/// bit-rotted one on its own, whatever FASTER's recovered tail says.
/// </summary>
internal static class StoreRecordCodec
{
    public const byte Version = 2;
    public const int HeaderLength = 30;
    private const int CrcOffset = 10;
    private const int V1HeaderLength = 22;
    private const int V1CrcOffset = 2;

    /// <summary>The first four bytes of every version-2 record.</summary>
    public static ReadOnlySpan<byte> Magic => "EHr2"u8;

    /// <summary>Smallest version-2 message record (header, fixed fields, an empty envelope).</summary>
    public const int MinMessageLength = HeaderLength + 20;

    /// <summary>Bytes needed for a message record with <paramref name="payloadLength"/> bytes of envelope.</summary>
    public static int GetMessageLength(int payloadLength) => HeaderLength + 8 + 8 + 4 + payloadLength;

    public static int WriteMessage(Span<byte> destination, StoredMessage message)
    {
        var payload = message.EnvelopeJson.Span;
        var body = destination[HeaderLength..];
        BinaryPrimitives.WriteInt64LittleEndian(body, message.Sequence);
        BinaryPrimitives.WriteInt64LittleEndian(body[8..], message.Timestamp.UtcTicks);
        BinaryPrimitives.WriteInt32LittleEndian(body[16..], payload.Length);
        payload.CopyTo(body[20..]);
        return Seal(destination, StoreRecordKind.Message, message.ChannelId, HeaderLength + 20 + payload.Length);
    }

    public static int WriteTrim(Span<byte> destination, Guid channelId, long firstKeptSequence)
    {
        BinaryPrimitives.WriteInt64LittleEndian(destination[HeaderLength..], firstKeptSequence);
        return Seal(destination, StoreRecordKind.Trim, channelId, HeaderLength + 8);
    }

    public static int WriteEmpty(Span<byte> destination, StoreRecordKind kind, Guid channelId) =>
        Seal(destination, kind, channelId, HeaderLength);

    public static byte[] EncodeChannel(ChannelRecord channel)
    {
        var buffer = new byte[GetChannelLength(channel)];
        var writer = new SpanWriter(buffer.AsSpan(HeaderLength));
        writer.String(channel.Name);
        writer.Bool(channel.Description is not null);
        writer.String(channel.Description ?? "");
        writer.Byte((byte)channel.Status);
        writer.Time(channel.CreatedAt);
        writer.Time(channel.UpdatedAt);
        writer.Int32(channel.Settings.MaxConnections);
        writer.Bool(channel.Settings.AllowClientMessages);
        writer.Bool(channel.Settings.PersistMessages);
        writer.Int32(channel.Settings.RateLimitPerMinute);
        writer.Int32(channel.Settings.ReplayLast);
        writer.String(channel.Epoch);
        writer.Int64(channel.LastSequence);
        writer.Int64(channel.MessagesSent);
        // Settings added after version 1 follow as optional trailing fields, so older records still decode.
        writer.Bool(channel.Settings.Private);
        Seal(buffer, StoreRecordKind.ChannelUpsert, channel.Id, HeaderLength + writer.Written);
        return buffer;
    }

    public static byte[] EncodeGap(Guid channelId, long first, long last)
    {
        var buffer = new byte[HeaderLength + 16];
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(HeaderLength), first);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(HeaderLength + 8), last);
        Seal(buffer, StoreRecordKind.Gap, channelId, buffer.Length);
        return buffer;
    }

    public static byte[] EncodeEmpty(StoreRecordKind kind, Guid channelId)
    {
        var buffer = new byte[HeaderLength];
        WriteEmpty(buffer, kind, channelId);
        return buffer;
    }

    public static byte[] EncodeTrim(Guid channelId, long firstKeptSequence)
    {
        var buffer = new byte[HeaderLength + 8];
        WriteTrim(buffer, channelId, firstKeptSequence);
        return buffer;
    }

    private static int GetChannelLength(ChannelRecord c) =>
        HeaderLength
        + 4 + Encoding.UTF8.GetByteCount(c.Name)
        + 1 + 4 + Encoding.UTF8.GetByteCount(c.Description ?? "")
        + 1 + 10 + 10
        + 4 + 1 + 1 + 4 + 4
        + 4 + Encoding.UTF8.GetByteCount(c.Epoch)
        + 8 + 8
        + 1;

    private static int Seal(Span<byte> record, StoreRecordKind kind, Guid channelId, int length)
    {
        Magic.CopyTo(record);
        BinaryPrimitives.WriteInt32LittleEndian(record[4..], length);
        record[8] = Version;
        record[9] = (byte)kind;
        channelId.TryWriteBytes(record[14..30]);
        BinaryPrimitives.WriteUInt32LittleEndian(record[CrcOffset..], Checksum(record[..length], CrcOffset));
        return length;
    }

    private static uint Checksum(ReadOnlySpan<byte> record, int crcOffset)
    {
        var crc = Crc32C(0xFFFFFFFFu, record[..crcOffset]);
        crc = Crc32C(crc, record[(crcOffset + 4)..]);
        return ~crc;
    }

    private static uint Crc32C(uint crc, ReadOnlySpan<byte> data)
    {
        // BitOperations.Crc32C uses SSE4.2/ARM CRC instructions when present, a table otherwise.
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, MemoryMarshal.Read<ulong>(data));
            data = data[8..];
        }
        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }
        return crc;
    }

    /// <summary>
    /// Decodes one log entry. False (with a reason) when the version, kind, length or checksum is wrong; a record
    /// that fails here is treated as the start of a torn tail.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> entry, out StoreRecord record, out string? error)
    {
        record = default;
        int header, crcOffset, kindOffset;
        if (entry.Length >= HeaderLength && entry.StartsWith(Magic))
        {
            if (entry[8] != Version)
            {
                error = $"unknown record version {entry[8]}";
                return false;
            }
            if (BinaryPrimitives.ReadInt32LittleEndian(entry[4..]) != entry.Length)
            {
                error = "record length does not match the log entry";
                return false;
            }
            (header, crcOffset, kindOffset) = (HeaderLength, CrcOffset, 9);
        }
        else if (entry.Length >= V1HeaderLength && entry[0] == 1)
        {
            (header, crcOffset, kindOffset) = (V1HeaderLength, V1CrcOffset, 1);
        }
        else
        {
            error = entry.Length < V1HeaderLength ? $"entry of {entry.Length} bytes is shorter than a record header" : "no record magic";
            return false;
        }
        if (BinaryPrimitives.ReadUInt32LittleEndian(entry[crcOffset..]) != Checksum(entry, crcOffset))
        {
            error = "checksum mismatch";
            return false;
        }
        var kind = (StoreRecordKind)entry[kindOffset];
        var channelId = new Guid(entry[(header - 16)..header]);
        var body = entry[header..];
        try
        {
            switch (kind)
            {
                case StoreRecordKind.Message:
                {
                    var length = BinaryPrimitives.ReadInt32LittleEndian(body[16..]);
                    if (length < 0 || length != body.Length - 20)
                    {
                        error = "message length does not match the entry";
                        return false;
                    }
                    record = new StoreRecord
                    {
                        Kind = kind,
                        ChannelId = channelId,
                        Sequence = BinaryPrimitives.ReadInt64LittleEndian(body),
                        TimestampUtcTicks = BinaryPrimitives.ReadInt64LittleEndian(body[8..]),
                        PayloadOffset = header + 20,
                        PayloadLength = length,
                    };
                    break;
                }
                case StoreRecordKind.Trim:
                    record = new StoreRecord { Kind = kind, ChannelId = channelId, Sequence = BinaryPrimitives.ReadInt64LittleEndian(body) };
                    break;
                case StoreRecordKind.Gap:
                    record = new StoreRecord
                    {
                        Kind = kind,
                        ChannelId = channelId,
                        Sequence = BinaryPrimitives.ReadInt64LittleEndian(body),
                        GapLast = BinaryPrimitives.ReadInt64LittleEndian(body[8..]),
                    };
                    break;
                case StoreRecordKind.ChannelDelete:
                case StoreRecordKind.Marker:
                    record = new StoreRecord { Kind = kind, ChannelId = channelId };
                    break;
                case StoreRecordKind.ChannelUpsert:
                {
                    var reader = new SpanReader(body);
                    var name = reader.String();
                    var hasDescription = reader.Bool();
                    var description = reader.String();
                    var status = (ChannelStatus)reader.Byte();
                    var createdAt = reader.Time();
                    var updatedAt = reader.Time();
                    var settings = new ChannelSettings(reader.Int32(), reader.Bool(), reader.Bool(), reader.Int32(), reader.Int32());
                    var epoch = reader.String();
                    var lastSequence = reader.Int64();
                    var messagesSent = reader.Int64();
                    if (!reader.AtEnd && reader.Bool())
                    {
                        settings = settings with { Private = true };
                    }
                    record = new StoreRecord
                    {
                        Kind = kind,
                        ChannelId = channelId,
                        Channel = new ChannelRecord(channelId, name, hasDescription ? description : null, status, createdAt, updatedAt,
                            settings, epoch, lastSequence, messagesSent),
                    };
                    break;
                }
                default:
                    error = $"unknown record kind {(byte)kind}";
                    return false;
            }
        }
        catch (ArgumentOutOfRangeException)
        {
            error = "record body is shorter than its fields";
            return false;
        }
        error = null;
        return true;
    }

    private ref struct SpanWriter(Span<byte> span)
    {
        private readonly Span<byte> _span = span;
        public int Written { get; private set; }

        public void Byte(byte value) => _span[Written++] = value;
        public void Bool(bool value) => Byte(value ? (byte)1 : (byte)0);

        public void Int32(int value)
        {
            BinaryPrimitives.WriteInt32LittleEndian(_span[Written..], value);
            Written += 4;
        }

        public void Int64(long value)
        {
            BinaryPrimitives.WriteInt64LittleEndian(_span[Written..], value);
            Written += 8;
        }

        public void Time(DateTimeOffset value)
        {
            Int64(value.UtcTicks);
            BinaryPrimitives.WriteInt16LittleEndian(_span[Written..], (short)value.Offset.TotalMinutes);
            Written += 2;
        }

        public void String(string value)
        {
            var length = Encoding.UTF8.GetBytes(value, _span[(Written + 4)..]);
            Int32(length);
            Written += length;
        }
    }

    private ref struct SpanReader(ReadOnlySpan<byte> span)
    {
        private readonly ReadOnlySpan<byte> _span = span;
        private int _read;

        public bool AtEnd => _read >= _span.Length;

        public byte Byte() => _span[_read++];
        public bool Bool() => Byte() != 0;

        public int Int32()
        {
            var value = BinaryPrimitives.ReadInt32LittleEndian(_span[_read..]);
            _read += 4;
            return value;
        }

        public long Int64()
        {
            var value = BinaryPrimitives.ReadInt64LittleEndian(_span[_read..]);
            _read += 8;
            return value;
        }

        public DateTimeOffset Time()
        {
            var ticks = Int64();
            var offset = TimeSpan.FromMinutes(BinaryPrimitives.ReadInt16LittleEndian(_span[_read..]));
            _read += 2;
            return new DateTimeOffset(ticks, TimeSpan.Zero).ToOffset(offset);
        }

        public string String()
        {
            var length = Int32();
            if (length < 0 || length > _span.Length - _read)
            {
                throw new ArgumentOutOfRangeException(nameof(length));
            }
            var value = Encoding.UTF8.GetString(_span.Slice(_read, length));
            _read += length;
            return value;
        }
    }
}
