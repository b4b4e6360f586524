using System.Net;
using EmitHub.Core.Configuration;
using EmitHub.Net.Auth;

namespace EmitHub.Cli.Configuration;

/// <summary>
/// The whole configuration surface: every key of <c>emit_hub.toml</c> in file order, with its environment variable,
/// range and documentation (SPEC §1 and the seed). Ranges are chosen so that a typo is refused at startup rather
/// than producing a server that cannot work (a zero timeout, a negative limit).
/// </summary>
public static class ConfigKeys
{
    /// <summary>The environment variable naming the TOML file (it is not a key of the file itself).</summary>
    public const string ConfigEnvName = "EMIT_HUB_CONFIG";

    /// <summary>Prefix of every variable this program reads.</summary>
    public const string EnvPrefix = "EMIT_HUB_";

    /// <summary>The TOML sections, in file order.</summary>
    public static readonly IReadOnlyList<string> Sections = ["cors", "websocket", "persistence", "auth", "tls", "cluster"];

    private const long OneGiB = 1L << 30;

    /// <summary>Every key, top level first, then <c>[cors]</c>, <c>[websocket]</c>, <c>[persistence]</c>, <c>[auth]</c>, <c>[tls]</c>, <c>[cluster]</c>.</summary>
    public static readonly IReadOnlyList<ConfigKey> All =
    [
        // top level
        new StringKey("", "host", "EMIT_HUB_HOST",
            "Address to bind. 127.0.0.1 accepts local clients only; 0.0.0.0 (or ::) listens on every interface.",
            "an IP address or a host name", NormalizeHost,
            o => o.Host, (o, v) => o.Host = v!, restartRequired: true),
        new IntegerKey("", "port", "EMIT_HUB_PORT",
            "TCP port of the HTTP and WebSocket listener.",
            1, 65535, null, o => o.Port, (o, v) => o.Port = (int)v!.Value, restartRequired: true),
        new StringKey("", "db_path", "EMIT_HUB_DB_PATH",
            "Directory of the embedded store (a FASTER log and its checkpoints); created if missing. A seed-style name such as \"emit_hub.redb\" is used as the directory's name.",
            "a non-empty path", NormalizePath,
            o => o.DbPath, (o, v) => o.DbPath = v!, restartRequired: true),
        new IntegerKey("", "max_connections_per_channel", "EMIT_HUB_MAX_CONNECTIONS",
            "Default max_connections of a new channel (a channel may set its own, up to 1,000,000).",
            1, 1_000_000, null, o => o.MaxConnectionsPerChannel, (o, v) => o.MaxConnectionsPerChannel = (int)v!.Value),
        new IntegerKey("", "max_channels", "EMIT_HUB_MAX_CHANNELS",
            "Channels the server holds at once; creating one more is refused with 409 max_channels_reached. 10,000 bounds the memory an unchecked create loop can take.",
            1, 10_000_000, null, o => o.MaxChannels, (o, v) => o.MaxChannels = (int)v!.Value),
        new IntegerKey("", "replay_last_max_bytes", "EMIT_HUB_REPLAY_LAST_MAX_BYTES",
            "Bytes of latest broadcasts kept in memory for replay_last, all channels together; past it a channel drops its oldest and keeps fewer. 256 MiB: 100 messages of 1 MiB on every channel would otherwise be unbounded.",
            0, 64 * OneGiB, "bytes", o => o.ReplayLastMaxBytes, (o, v) => o.ReplayLastMaxBytes = v!.Value),
        new IntegerKey("", "catch_up_ring_max_bytes", "EMIT_HUB_CATCH_UP_RING_MAX_BYTES",
            "Bytes of recent messages persisting channels keep in memory to join a ?after= replay to the live stream, all channels together (at most 4 MiB each); past it clients read more from the store. 256 MiB covers 64 busy persisting channels.",
            0, 64 * OneGiB, "bytes", o => o.CatchUpRingMaxBytes, (o, v) => o.CatchUpRingMaxBytes = v!.Value),
        new IntegerKey("", "message_size_limit", "EMIT_HUB_MESSAGE_SIZE_LIMIT",
            "Largest message, in bytes: the UTF-8 content of a REST broadcast, or the payload of a WebSocket message.",
            1, OneGiB, "bytes", o => o.MessageSizeLimit, (o, v) => o.MessageSizeLimit = v!.Value),
        StringKey.Enumeration("", "log_level", "EMIT_HUB_LOG_LEVEL",
            "Least severe log level written: trace, debug, info, warn or error. Changes apply without a restart.",
            ["trace", "debug", "info", "warn", "error"], o => o.LogLevel, (o, v) => o.LogLevel = v!),
        StringKey.Enumeration("", "log_format", "EMIT_HUB_LOG_FORMAT",
            "Console log format: \"text\" (human-readable lines) or \"json\" (one JSON object per line).",
            ["text", "json"], o => o.LogFormat, (o, v) => o.LogFormat = v!),
        new StringKey("", "api_key", "EMIT_HUB_API_KEY",
            "When set, every /api/v1/channels request (except the WebSocket upgrade) needs \"Authorization: Bearer <api_key>\". Unset by default.",
            "a non-empty string of visible ASCII characters without spaces", NormalizeApiKey,
            o => o.ApiKey, (o, v) => o.ApiKey = v, optional: true, secret: true),
        new StringKey("", "static_dir", "EMIT_HUB_STATIC_DIR",
            "When set, files under this directory are served at / paths (e.g. display.html at /display.html) with their content type, ETag and Last-Modified; API routes, /docs and / win; no directory listing (a directory's index.html is served); no path outside the directory, symbolic links included. Unset by default.",
            "a non-empty path", NormalizePath,
            o => o.StaticDir, (o, v) => o.StaticDir = v, optional: true),

        // [cors]
        new StringListKey("cors", "allowed_origins", "EMIT_HUB_CORS_ORIGINS",
            "Origins allowed to call the API and open WebSockets from a browser. \"*\" allows any origin; \"localhost\" allows http://localhost and http://127.0.0.1 on any port; \"null\" allows pages opened from file:// (kiosk displays; sandboxed frames send it too); otherwise an origin such as \"https://example.com:8443\".",
            "a non-empty array of \"*\", \"localhost\", \"null\" or origins like \"https://example.com\" (scheme http or https, host, optional port, no path)",
            NormalizeOrigin, o => o.Cors.AllowedOrigins, (o, v) => o.Cors.AllowedOrigins = v),
        new StringListKey("cors", "allowed_methods", null,
            "Methods announced in Access-Control-Allow-Methods.",
            "a non-empty array of HTTP method names (RFC 9110 tokens)",
            NormalizeToken, o => o.Cors.AllowedMethods, (o, v) => o.Cors.AllowedMethods = v),
        new StringListKey("cors", "allowed_headers", null,
            "Request headers announced in Access-Control-Allow-Headers.",
            "a non-empty array of header names (RFC 9110 tokens)",
            NormalizeToken, o => o.Cors.AllowedHeaders, (o, v) => o.Cors.AllowedHeaders = v),
        new IntegerKey("cors", "max_age", null,
            "Seconds a browser may cache a preflight answer (Access-Control-Max-Age).",
            0, 86_400, "seconds", o => o.Cors.MaxAge, (o, v) => o.Cors.MaxAge = (int)v!.Value),

        // [websocket]
        new IntegerKey("websocket", "connection_timeout", "EMIT_HUB_WS_TIMEOUT",
            "Seconds allowed for the opening handshake (TCP accept to complete upgrade request), for a client message from its first frame to its last (else 1008), and for the peer's close frame during a closing handshake.",
            1, 3600, "seconds", o => o.WebSocket.ConnectionTimeout, (o, v) => o.WebSocket.ConnectionTimeout = (int)v!.Value),
        new IntegerKey("websocket", "max_continuation_size", null,
            "Payload bytes of one fragmented message (else 1009). Defaults to message_size_limit when unset.",
            1, OneGiB, "bytes", o => o.WebSocket.MaxContinuationSize, (o, v) => o.WebSocket.MaxContinuationSize = v, optional: true),
        new IntegerKey("websocket", "max_message_fragments", null,
            "Frames one fragmented message may have (else 1009), so endless empty fragments are refused. 65536 keeps every split of a 1 MiB message into fragments of 16 bytes or more legal.",
            1, 1L << 32, null, o => o.WebSocket.MaxMessageFragments, (o, v) => o.WebSocket.MaxMessageFragments = v!.Value),
        new IntegerKey("websocket", "max_partial_message_bytes", null,
            "Bytes held by all client messages still waiting for their last frame, server-wide; past this the connection holding the most is closed 1009. 64 MiB holds 64 whole 1 MiB messages at once.",
            1024, 64 * OneGiB, "bytes", o => o.WebSocket.MaxPartialMessageBytes, (o, v) => o.WebSocket.MaxPartialMessageBytes = v!.Value),
        new IntegerKey("websocket", "ping_interval", "EMIT_HUB_WS_PING_INTERVAL",
            "Seconds between the server's pings on each WebSocket.",
            1, 3600, "seconds", o => o.WebSocket.PingInterval, (o, v) => o.WebSocket.PingInterval = (int)v!.Value),
        new IntegerKey("websocket", "pong_timeout", null,
            "Seconds a pong may take after a ping before the connection is closed (1001).",
            1, 3600, "seconds", o => o.WebSocket.PongTimeout, (o, v) => o.WebSocket.PongTimeout = (int)v!.Value),
        new IntegerKey("websocket", "max_pending_bytes", null,
            "Outbound bytes queued per connection; past this the client is closed 1008 \"slow consumer\" so it never delays the others.",
            1024, OneGiB, "bytes", o => o.WebSocket.MaxPendingBytes, (o, v) => o.WebSocket.MaxPendingBytes = v!.Value),
        new IntegerKey("websocket", "coalesce_window_ms", "EMIT_HUB_WS_COALESCE_WINDOW_MS",
            "A WebSocket that sent less than this many milliseconds ago waits until the window ends before its next send, so the messages that arrive meanwhile leave in one gathered send: less CPU per delivery on busy channels, at most this much added latency, and only for clients receiving more than one message per window. 0 sends every message at once. Applies to new connections.",
            0, 1000, "milliseconds", o => o.WebSocket.CoalesceWindowMs, (o, v) => o.WebSocket.CoalesceWindowMs = (int)v!.Value),
        StringKey.Enumeration("websocket", "compression", "EMIT_HUB_WS_COMPRESSION",
            "permessage-deflate (RFC 7692) for clients that offer it: \"shared\" compresses each broadcast once and sends the same compressed frame to every such client (no compressor per connection); \"per_connection\" keeps a compressor per connection (better ratio for repetitive streams, CPU per delivery and memory per connection); \"off\" declines. Messages under 256 bytes always go uncompressed. Applies to new connections.",
            ["off", "shared", "per_connection"], o => o.WebSocket.Compression, (o, v) => o.WebSocket.Compression = v!),
        new IntegerKey("websocket", "max_subscriptions", null,
            "Channels one multiplexed socket (GET /api/v1/ws) may be subscribed to at once; a subscribe past it gets an error envelope.",
            1, 100_000, null, o => o.WebSocket.MaxSubscriptions, (o, v) => o.WebSocket.MaxSubscriptions = (int)v!.Value),
        new StringKey("websocket", "echo_path", null,
            "When set (e.g. \"/echo\"), that path accepts WebSocket connections that echo every message back, for conformance suites. Unset by default.",
            "a path starting with \"/\" without spaces, '?' or '#'", NormalizeEchoPath,
            o => o.WebSocket.EchoPath, (o, v) => o.WebSocket.EchoPath = v, optional: true),

        // [persistence]
        new BooleanKey("persistence", "persist_messages_default", "EMIT_HUB_PERSIST_MESSAGES",
            "Default persist_messages of a new channel: store its messages so clients can recover them with ?after=SEQ.",
            o => o.Persistence.PersistMessagesDefault, (o, v) => o.Persistence.PersistMessagesDefault = v),
        new IntegerKey("persistence", "max_messages_per_channel", null,
            "Stored messages kept per channel; the oldest are dropped first.",
            1, 100_000_000, null, o => o.Persistence.MaxMessagesPerChannel, (o, v) => o.Persistence.MaxMessagesPerChannel = (int)v!.Value),
        new IntegerKey("persistence", "message_retention_days", "EMIT_HUB_MESSAGE_RETENTION_DAYS",
            "Days a stored message is kept.",
            1, 36_500, "days", o => o.Persistence.MessageRetentionDays, (o, v) => o.Persistence.MessageRetentionDays = (int)v!.Value),
        new BooleanKey("persistence", "auto_backup", "EMIT_HUB_AUTO_BACKUP",
            "Copy a consistent snapshot of the store into <db_path>/backups/ every backup_interval_hours.",
            o => o.Persistence.AutoBackup, (o, v) => o.Persistence.AutoBackup = v),
        new IntegerKey("persistence", "backup_interval_hours", null,
            "Hours between automatic backups.",
            1, 8760, "hours", o => o.Persistence.BackupIntervalHours, (o, v) => o.Persistence.BackupIntervalHours = (int)v!.Value),
        new IntegerKey("persistence", "max_pending_messages", "EMIT_HUB_MAX_PENDING_MESSAGES",
            "Stored messages, over all channels, waiting for their commit to disk. Past it a broadcast to a persisting channel gets 503 with Retry-After (nothing stored, so a retry is safe) instead of queueing without bound behind a stalled disk. Group commit keeps this near the number of concurrent publishers; 10,000 is seconds of a stalled disk.",
            1, 10_000_000, "messages", o => o.Persistence.MaxPendingMessages, (o, v) => o.Persistence.MaxPendingMessages = (int)v!.Value, restartRequired: true),

        // [auth]
        new StringKey("auth", "token_secret", "EMIT_HUB_TOKEN_SECRET",
            "HMAC key of HS256 subscriber tokens for private channels; POST /api/v1/channels/{id}/tokens signs with it. Unset by default (then only token_public_key verifies tokens).",
            "a string of at least 32 visible ASCII characters without spaces", NormalizeTokenSecret,
            o => o.Auth.TokenSecret, (o, v) => o.Auth.TokenSecret = v, optional: true, secret: true),
        new StringKey("auth", "token_public_key", "EMIT_HUB_TOKEN_PUBLIC_KEY",
            "Path of a PEM file with an RSA (RS256) or P-256 EC (ES256) public key that verifies subscriber tokens signed by your own issuer. Unset by default.",
            "a path to a readable PEM file holding one RSA or P-256 EC public key", NormalizePublicKeyPath,
            o => o.Auth.TokenPublicKey, (o, v) => o.Auth.TokenPublicKey = v, optional: true),
        new IntegerKey("auth", "clock_skew", null,
            "Seconds of tolerance when checking a subscriber token's exp and nbf against this server's clock.",
            0, 600, "seconds", o => o.Auth.ClockSkew, (o, v) => o.Auth.ClockSkew = (int)v!.Value),

        // [tls]
        new StringKey("tls", "cert_path", "EMIT_HUB_TLS_CERT_PATH",
            "PEM certificate file (the server certificate first, then any intermediates). With key_path set too, the port speaks HTTPS and wss:// instead of plain HTTP and ws://. The files are re-read when they change: the next TLS handshake uses the new certificate. Unset by default.",
            "a path to a PEM file; set together with key_path", NormalizePath,
            o => o.Tls.CertPath, (o, v) => o.Tls.CertPath = v, optional: true, restartRequired: true),
        new StringKey("tls", "key_path", "EMIT_HUB_TLS_KEY_PATH",
            "PEM private key file of cert_path's certificate (PKCS#8, PKCS#1 or SEC1, not encrypted). Unset by default.",
            "a path to a PEM file; set together with cert_path", NormalizePath,
            o => o.Tls.KeyPath, (o, v) => o.Tls.KeyPath = v, optional: true, restartRequired: true),

        // [cluster]
        new StringKey("cluster", "nats_url", "EMIT_HUB_CLUSTER_NATS_URL",
            "NATS server(s) that make this node one of a cluster, comma-separated (nats://a:4222,nats://b:4222). Then NATS JetStream, not db_path, holds channels and messages, shared by every node. Unset: a single node on the embedded store.",
            "one or more comma-separated URLs with scheme nats, tls, ws or wss and a host", NormalizeNatsUrl,
            o => o.Cluster.NatsUrl, (o, v) => o.Cluster.NatsUrl = v, optional: true, restartRequired: true),
        new StringKey("cluster", "node_name", "EMIT_HUB_CLUSTER_NODE_NAME",
            "This node's name in logs and in its NATS connection name. Unset: <host name>:<port>.",
            "a non-empty name of visible ASCII characters without spaces", NormalizeApiKey,
            o => o.Cluster.NodeName, (o, v) => o.Cluster.NodeName = v, optional: true, restartRequired: true),
        new StringKey("cluster", "creds_file", "EMIT_HUB_CLUSTER_CREDS_FILE",
            "NATS credentials file (user JWT and NKey seed), for servers that use decentralized authentication.",
            "a non-empty path", NormalizePath,
            o => o.Cluster.CredsFile, (o, v) => o.Cluster.CredsFile = v, optional: true, restartRequired: true),
        new StringKey("cluster", "user", "EMIT_HUB_CLUSTER_USER",
            "NATS user name, used with password.",
            "a non-empty string of visible ASCII characters without spaces", NormalizeApiKey,
            o => o.Cluster.User, (o, v) => o.Cluster.User = v, optional: true, restartRequired: true),
        new StringKey("cluster", "password", "EMIT_HUB_CLUSTER_PASSWORD",
            "NATS password, used with user.",
            "a non-empty string of visible ASCII characters without spaces", NormalizeApiKey,
            o => o.Cluster.Password, (o, v) => o.Cluster.Password = v, optional: true, secret: true, restartRequired: true),
        new StringKey("cluster", "token", "EMIT_HUB_CLUSTER_TOKEN",
            "NATS authentication token.",
            "a non-empty string of visible ASCII characters without spaces", NormalizeApiKey,
            o => o.Cluster.Token, (o, v) => o.Cluster.Token = v, optional: true, secret: true, restartRequired: true),
        new StringKey("cluster", "tls_ca_file", "EMIT_HUB_CLUSTER_TLS_CA_FILE",
            "PEM file of the CA that signs the NATS servers' certificates; setting it (or a tls:// URL) makes the connection use TLS.",
            "a non-empty path", NormalizePath,
            o => o.Cluster.TlsCaFile, (o, v) => o.Cluster.TlsCaFile = v, optional: true, restartRequired: true),
        new StringKey("cluster", "tls_cert_file", "EMIT_HUB_CLUSTER_TLS_CERT_FILE",
            "PEM client certificate for NATS servers that require mutual TLS (with tls_key_file).",
            "a non-empty path", NormalizePath,
            o => o.Cluster.TlsCertFile, (o, v) => o.Cluster.TlsCertFile = v, optional: true, restartRequired: true),
        new StringKey("cluster", "tls_key_file", "EMIT_HUB_CLUSTER_TLS_KEY_FILE",
            "PEM private key of tls_cert_file.",
            "a non-empty path", NormalizePath,
            o => o.Cluster.TlsKeyFile, (o, v) => o.Cluster.TlsKeyFile = v, optional: true, restartRequired: true),
        new IntegerKey("cluster", "stream_replicas", "EMIT_HUB_CLUSTER_STREAM_REPLICAS",
            "JetStream replicas of the message stream and the channel bucket (1 on a single NATS server; 3 keeps every acknowledged message when one of three NATS servers is lost).",
            1, 5, null, o => o.Cluster.StreamReplicas, (o, v) => o.Cluster.StreamReplicas = (int)v!.Value, restartRequired: true),
        new IntegerKey("cluster", "unfollow_delay", "EMIT_HUB_CLUSTER_UNFOLLOW_DELAY",
            "Seconds a node keeps following a channel (its JetStream consumer) after its last local client left; a client joining within it reuses the consumer (0: stop at once).",
            0, 3600, "seconds", o => o.Cluster.UnfollowDelay, (o, v) => o.Cluster.UnfollowDelay = (int)v!.Value, restartRequired: true),
    ];

    private static readonly Dictionary<string, ConfigKey> s_byPath = All.ToDictionary(k => k.Path, StringComparer.Ordinal);
    private static readonly Dictionary<string, ConfigKey> s_byEnv =
        All.Where(k => k.EnvName is not null).ToDictionary(k => k.EnvName!, StringComparer.Ordinal);

    /// <summary>Finds a key by dotted path (<c>websocket.ping_interval</c>).</summary>
    public static ConfigKey? ByPath(string path) => s_byPath.GetValueOrDefault(path);

    /// <summary>Finds a key by its <c>EMIT_HUB_*</c> variable name.</summary>
    public static ConfigKey? ByEnv(string envName) => s_byEnv.GetValueOrDefault(envName);

    /// <summary>A deep copy of <paramref name="options"/>, made through the key table.</summary>
    public static EmitHubOptions Clone(EmitHubOptions options)
    {
        var copy = new EmitHubOptions();
        foreach (var key in All)
        {
            key.Copy(options, copy);
        }
        return copy;
    }

    private static string? NormalizeHost(string text)
    {
        var host = text.Trim();
        if (host.Length == 0)
        {
            return null;
        }
        // "[::1]" is how an IPv6 address appears in a URL; the listener wants the bare address.
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }
        if (IPAddress.TryParse(host, out _))
        {
            return host;
        }
        return Uri.CheckHostName(host) == UriHostNameType.Dns ? host : null;
    }

    private static string? NormalizePath(string text) =>
        text.Trim().Length == 0 || text.Contains('\0') ? null : text;

    private static string? NormalizeApiKey(string text)
    {
        foreach (var c in text)
        {
            if (c <= ' ' || c >= 0x7F)
            {
                return null;
            }
        }
        return text.Length == 0 ? null : text;
    }

    private static string? NormalizeTokenSecret(string text) =>
        text.Length < 32 ? null : NormalizeApiKey(text);

    private static string? NormalizePublicKeyPath(string text)
    {
        if (NormalizePath(text) is null)
        {
            return null;
        }
        try
        {
            // Read now so a wrong path or key is a startup error, not a refusal of every private client later.
            return SubscriberTokenKeyFile.TryLoad(File.ReadAllText(text), out _, out _) ? text : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return null;
        }
    }

    private static string? NormalizeOrigin(string text)
    {
        var origin = text.Trim();
        // "null" is the Origin of a page opened from file:// (an opaque origin, RFC 6454 §7.3): kiosk displays.
        if (origin is "*" || origin.Equals("localhost", StringComparison.OrdinalIgnoreCase) || origin.Equals("null", StringComparison.OrdinalIgnoreCase))
        {
            return origin.ToLowerInvariant();
        }
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || uri.AbsolutePath != "/" || uri.Query.Length != 0 || uri.Fragment.Length != 0 || uri.UserInfo.Length != 0)
        {
            return null;
        }
        // An Origin header is serialized as scheme "://" host [":" port] (RFC 6454 §6.2), lower-case, no slash.
        return uri.IsDefaultPort
            ? $"{uri.Scheme}://{uri.Host}"
            : $"{uri.Scheme}://{uri.Host}:{uri.Port}";
    }

    private static string? NormalizeToken(string text)
    {
        var token = text.Trim();
        if (token.Length == 0)
        {
            return null;
        }
        foreach (var c in token)
        {
            // tchar (RFC 9110 §5.6.2).
            var ok = char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c);
            if (!ok)
            {
                return null;
            }
        }
        return token;
    }

    private static string? NormalizeNatsUrl(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        foreach (var part in parts)
        {
            if (!Uri.TryCreate(part, UriKind.Absolute, out var uri)
                || uri.Scheme is not ("nats" or "tls" or "ws" or "wss")
                || uri.Host.Length == 0)
            {
                return null;
            }
        }
        return string.Join(',', parts);
    }

    private static string? NormalizeEchoPath(string text)
    {
        if (text.Length < 2 || text[0] != '/')
        {
            return null;
        }
        foreach (var c in text)
        {
            if (c <= ' ' || c >= 0x7F || c == '?' || c == '#')
            {
                return null;
            }
        }
        return text;
    }
}
