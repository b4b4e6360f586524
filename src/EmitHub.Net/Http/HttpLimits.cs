namespace EmitHub.Net.Http;

/// <summary>HTTP/1.1 limits and timeouts (SPEC §4, §6). The body limit comes from <c>message_size_limit</c> of the
/// live configuration per request; the rest are fixed by the SPEC and settable only for tests.</summary>
public sealed class HttpLimits
{
    /// <summary>Longest request line, CRLF excluded: 8,192 bytes (8 KiB, as nginx and Kestrel). Over it: 414.</summary>
    public int MaxRequestLineLength { get; init; } = 8 * 1024;

    /// <summary>Largest field section (all field lines with their CRLFs): 32,768 bytes (32 KiB, as Kestrel). Over it: 431.</summary>
    public int MaxHeadersLength { get; init; } = 32 * 1024;

    /// <summary>Most field lines: 100 (as Kestrel). Over it: 431.</summary>
    public int MaxHeaderCount { get; init; } = 100;

    /// <summary>Slack added to message_size_limit for the JSON around a broadcast's content: 65,536 bytes (64 KiB).</summary>
    public long BodySlack { get; init; } = 64 * 1024;

    /// <summary>Longest chunk-size line including extensions: 4,096 bytes.</summary>
    public int MaxChunkLineLength { get; init; } = 4096;

    /// <summary>Time for a whole request head from its first byte: 10 s. Over it: 408.</summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Time for a whole request body once its head is complete: 30 s (1 MiB at ~35 KB/s). Over it: 408.</summary>
    public TimeSpan RequestBodyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A new connection that sends nothing for 10 s is closed without an answer.</summary>
    public TimeSpan InitialSilenceTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A keep-alive connection idle between requests for 120 s is closed.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Largest accepted body for <paramref name="messageSizeLimit"/>: the limit plus <see cref="BodySlack"/>.</summary>
    public long MaxBodyLength(long messageSizeLimit) => messageSizeLimit + BodySlack;
}
