using System.Buffers.Text;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EmitHub.Core.Channels;

/// <summary>
/// RFC 3339 UTC timestamps with millisecond precision, e.g. <c>2024-06-01T10:40:00.123Z</c> — the form every
/// envelope and channel JSON uses. Parsing accepts any ISO 8601 offset.
/// </summary>
public static class Rfc3339
{
    /// <summary>Longest formatted length in bytes.</summary>
    public const int MaxLength = 24;

    /// <summary>Formats <paramref name="value"/> in UTC into <paramref name="destination"/> (≥ 24 bytes); returns bytes written.</summary>
    public static int Format(DateTimeOffset value, Span<byte> destination)
    {
        var utc = value.UtcDateTime;
        if (!utc.TryFormat(destination, out var written, "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture))
        {
            throw new ArgumentException("Destination is shorter than 24 bytes.", nameof(destination));
        }
        return written;
    }

    /// <summary>Formats <paramref name="value"/> in UTC as a string.</summary>
    public static string ToString(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Truncates to whole milliseconds, so a value round-trips through its text form unchanged.</summary>
    public static DateTimeOffset Truncate(DateTimeOffset value) =>
        new(value.UtcTicks - value.UtcTicks % TimeSpan.TicksPerMillisecond, TimeSpan.Zero);
}

/// <summary>System.Text.Json converter writing <see cref="Rfc3339"/> timestamps.</summary>
public sealed class Rfc3339Converter : JsonConverter<DateTimeOffset>
{
    /// <inheritdoc />
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.GetDateTimeOffset();

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
    {
        Span<byte> buffer = stackalloc byte[Rfc3339.MaxLength];
        var length = Rfc3339.Format(value, buffer);
        writer.WriteStringValue(buffer[..length]);
    }
}
