namespace EmitHub.Core.Configuration;

/// <summary>
/// Every setting of <c>emit_hub.toml</c> (SPEC §1 and the seed). Property names map to TOML keys in
/// snake_case; sections are the nested option objects. Defaults are the SPEC's.
/// Loading, precedence (defaults &lt; TOML &lt; EMIT_HUB_* &lt; CLI) and validation live in EmitHub.Cli.
/// </summary>
public sealed class EmitHubOptions
{
    /// <summary>TOML <c>host</c>, env <c>EMIT_HUB_HOST</c>. Address to bind. Default <c>127.0.0.1</c>.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>TOML <c>port</c>, env <c>EMIT_HUB_PORT</c>. TCP port, 1–65535. Default 8080.</summary>
    public int Port { get; set; } = 8080;

    /// <summary>TOML <c>db_path</c>, env <c>EMIT_HUB_DB_PATH</c>. Directory of the FASTER log. Default <c>emit_hub_data</c>.</summary>
    public string DbPath { get; set; } = "emit_hub_data";

    /// <summary>TOML <c>max_connections_per_channel</c>, env <c>EMIT_HUB_MAX_CONNECTIONS</c>. Default for a channel's <c>max_connections</c>. Default 1000.</summary>
    public int MaxConnectionsPerChannel { get; set; } = 1000;

    /// <summary>TOML <c>max_channels</c>, env <c>EMIT_HUB_MAX_CHANNELS</c>. Channels the server holds at once; a create
    /// past it is refused (409 <c>max_channels_reached</c>). Default 10,000: each channel costs memory (its state, rings
    /// and subscriber set), and an unbounded create loop must not be able to exhaust it.</summary>
    public int MaxChannels { get; set; } = 10_000;

    /// <summary>TOML <c>replay_last_max_bytes</c>, env <c>EMIT_HUB_REPLAY_LAST_MAX_BYTES</c>. Bytes of the latest
    /// broadcasts kept in memory for <c>replay_last</c>, all channels together; past it a channel drops its oldest,
    /// then keeps fewer. Default 256 MiB: 10,000 channels × 100 messages of 1 MiB would otherwise be about 1 TB.</summary>
    public long ReplayLastMaxBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>TOML <c>catch_up_ring_max_bytes</c>, env <c>EMIT_HUB_CATCH_UP_RING_MAX_BYTES</c>. Bytes of recent
    /// messages persisting channels keep in memory to join a <c>?after=</c> replay to the live stream, all channels
    /// together; past it a joining client reads more from the store instead. Default 256 MiB (was 4 MiB per channel
    /// with no global bound).</summary>
    public long CatchUpRingMaxBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>TOML <c>message_size_limit</c>, env <c>EMIT_HUB_MESSAGE_SIZE_LIMIT</c>. Bytes of a broadcast's UTF-8 content or a WebSocket message payload. Default 1 MiB (1,048,576).</summary>
    public long MessageSizeLimit { get; set; } = 1024 * 1024;

    /// <summary>TOML <c>log_level</c>, env <c>EMIT_HUB_LOG_LEVEL</c>: trace|debug|info|warn|error. Default <c>info</c>.</summary>
    public string LogLevel { get; set; } = "info";

    /// <summary>TOML <c>log_format</c>, env <c>EMIT_HUB_LOG_FORMAT</c>: text|json. Default <c>text</c>.</summary>
    public string LogFormat { get; set; } = "text";

    /// <summary>TOML <c>api_key</c>, env <c>EMIT_HUB_API_KEY</c>. When set, <c>/api/v1/channels…</c> needs <c>Authorization: Bearer &lt;key&gt;</c>. Default unset.</summary>
    public string? ApiKey { get; set; }

    /// <summary>TOML <c>static_dir</c>, env <c>EMIT_HUB_STATIC_DIR</c>. Directory whose files are served at <c>/</c> paths
    /// (display pages, the seed's dashboard), relative to the working directory. Default unset (no static files).</summary>
    public string? StaticDir { get; set; }

    /// <summary>TOML section <c>[cors]</c>.</summary>
    public CorsOptions Cors { get; set; } = new();

    /// <summary>TOML section <c>[websocket]</c>.</summary>
    public WebSocketOptions WebSocket { get; set; } = new();

    /// <summary>TOML section <c>[persistence]</c>.</summary>
    public PersistenceOptions Persistence { get; set; } = new();

    /// <summary>TOML section <c>[cluster]</c>: several nodes sharing channels through NATS JetStream.</summary>
    public ClusterOptions Cluster { get; set; } = new();

    /// <summary>TOML section <c>[tls]</c>.</summary>
    public TlsOptions Tls { get; set; } = new();

    /// <summary>TOML section <c>[auth]</c>.</summary>
    public AuthOptions Auth { get; set; } = new();
}

/// <summary>TOML section <c>[auth]</c>: how subscriber tokens of private channels are verified (issue 13).</summary>
public sealed class AuthOptions
{
    /// <summary>TOML <c>token_secret</c>, env <c>EMIT_HUB_TOKEN_SECRET</c>. HMAC key of HS256 subscriber tokens, at
    /// least 32 bytes (RFC 7518 §3.2); also the key <c>POST /channels/{id}/tokens</c> signs with. Default unset.</summary>
    public string? TokenSecret { get; set; }

    /// <summary>TOML <c>token_public_key</c>, env <c>EMIT_HUB_TOKEN_PUBLIC_KEY</c>. Path of a PEM file holding an RSA
    /// (RS256) or P-256 EC (ES256) public key that verifies tokens issued elsewhere. Default unset.</summary>
    public string? TokenPublicKey { get; set; }

    /// <summary>TOML <c>clock_skew</c>. Seconds of tolerance on <c>exp</c> and <c>nbf</c>. Default 30.</summary>
    public int ClockSkew { get; set; } = 30;
}

/// <summary>TOML section <c>[cors]</c> (SPEC §2 "CORS", §6).</summary>
public sealed class CorsOptions
{
    /// <summary>TOML <c>allowed_origins</c>, env <c>EMIT_HUB_CORS_ORIGINS</c> (comma-separated).
    /// <c>"*"</c> allows any origin; <c>"localhost"</c> allows <c>http://localhost</c> and <c>http://127.0.0.1</c> on any port. Default <c>["localhost"]</c>.</summary>
    public List<string> AllowedOrigins { get; set; } = ["localhost"];

    /// <summary>TOML <c>allowed_methods</c>. Default GET, POST, PUT, PATCH, DELETE, OPTIONS.</summary>
    public List<string> AllowedMethods { get; set; } = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

    /// <summary>TOML <c>allowed_headers</c>. Default Content-Type, Authorization, Accept.</summary>
    public List<string> AllowedHeaders { get; set; } = ["Content-Type", "Authorization", "Accept"];

    /// <summary>TOML <c>max_age</c>: seconds a browser may cache a preflight. Default 3600.</summary>
    public int MaxAge { get; set; } = 3600;
}

/// <summary>TOML section <c>[websocket]</c> (SPEC §3, §4).</summary>
public sealed class WebSocketOptions
{
    /// <summary>TOML <c>connection_timeout</c>, env <c>EMIT_HUB_WS_TIMEOUT</c>. Seconds allowed for the opening handshake, for
    /// a client message from its first frame to its last, and for the peer's close frame. Default 30.</summary>
    public int ConnectionTimeout { get; set; } = 30;

    /// <summary>TOML <c>max_continuation_size</c>. Payload bytes of one fragmented message. Default = <see cref="EmitHubOptions.MessageSizeLimit"/> when null.</summary>
    public long? MaxContinuationSize { get; set; }

    /// <summary>TOML <c>max_message_fragments</c>. Frames of one fragmented message, so endless empty fragments are
    /// refused (1009). Default 65,536: every split the former 16-bytes-per-fragment rule allowed in 1 MiB.</summary>
    public long MaxMessageFragments { get; set; } = 65_536;

    /// <summary>TOML <c>max_partial_message_bytes</c>. Server-wide bytes held by client messages whose last frame has not
    /// arrived; past it the connection holding the most is closed 1009. Default 64 MiB: 64 clients each sending a
    /// whole default-size (1 MiB) message at once.</summary>
    public long MaxPartialMessageBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>TOML <c>ping_interval</c>, env <c>EMIT_HUB_WS_PING_INTERVAL</c>. Seconds between server pings. Default 30.</summary>
    public int PingInterval { get; set; } = 30;

    /// <summary>TOML <c>pong_timeout</c>. Seconds a pong may take after a ping before the connection is closed 1001. Default 10.</summary>
    public int PongTimeout { get; set; } = 10;

    /// <summary>TOML <c>max_pending_bytes</c>. Outbound bytes queued per connection before it is closed 1008 "slow consumer". Default 1 MiB.</summary>
    public long MaxPendingBytes { get; set; } = 1024 * 1024;

    /// <summary>TOML <c>coalesce_window_ms</c>, env <c>EMIT_HUB_WS_COALESCE_WINDOW_MS</c>. Milliseconds a WebSocket that
    /// sent less than this long ago waits before its next send, so messages arriving meanwhile leave in one gathered
    /// send (<see cref="Fanout.SendCoalescer"/>); 0 sends at once. Default 10.</summary>
    public int CoalesceWindowMs { get; set; } = 10;

    /// <summary>TOML <c>compression</c>, env <c>EMIT_HUB_WS_COMPRESSION</c>: <c>off</c>, <c>shared</c> or
    /// <c>per_connection</c> — how a client's permessage-deflate offer (RFC 7692) is answered. <c>shared</c> compresses
    /// each broadcast once for every client that negotiated it. Default <c>shared</c>.</summary>
    public string Compression { get; set; } = "shared";

    /// <summary>TOML <c>max_subscriptions</c>. Channels one multiplexed socket (<c>/api/v1/ws</c>) may subscribe to at once. Default 100.</summary>
    public int MaxSubscriptions { get; set; } = 100;

    /// <summary>TOML <c>echo_path</c>. When set (e.g. <c>/echo</c>) that path is a WebSocket echo endpoint for conformance suites. Default unset.</summary>
    public string? EchoPath { get; set; }
}

/// <summary>TOML section <c>[persistence]</c> (SPEC §5).</summary>
public sealed class PersistenceOptions
{
    /// <summary>TOML <c>persist_messages_default</c>, env <c>EMIT_HUB_PERSIST_MESSAGES</c>. Default of a new channel's <c>persist_messages</c>. Default false.</summary>
    public bool PersistMessagesDefault { get; set; }

    /// <summary>TOML <c>max_messages_per_channel</c>. Stored messages kept per channel (oldest dropped first). Default 10,000.</summary>
    public int MaxMessagesPerChannel { get; set; } = 10_000;

    /// <summary>TOML <c>message_retention_days</c>, env <c>EMIT_HUB_MESSAGE_RETENTION_DAYS</c>. Days a stored message is kept. Default 30.</summary>
    public int MessageRetentionDays { get; set; } = 30;

    /// <summary>TOML <c>auto_backup</c>, env <c>EMIT_HUB_AUTO_BACKUP</c>. Copy a consistent snapshot into <c>db_path/backups/</c>. Default false.</summary>
    public bool AutoBackup { get; set; }

    /// <summary>TOML <c>backup_interval_hours</c>. Hours between automatic backups. Default 24.</summary>
    public int BackupIntervalHours { get; set; } = 24;

    /// <summary>TOML <c>max_pending_messages</c>, env <c>EMIT_HUB_MAX_PENDING_MESSAGES</c>. Stored messages, over all
    /// channels, appended but not yet committed; past it a broadcast to a persisting channel is answered 503 with
    /// <c>Retry-After</c> and nothing is stored. Default 10,000 (group commit keeps it near the number of concurrent
    /// publishers; 10,000 means the disk has stalled for seconds). Read at startup.</summary>
    public int MaxPendingMessages { get; set; } = 10_000;

    /// <summary>Command line <c>--recover-skip-corrupt</c> only (not a TOML key: it is a one-off decision for one
    /// start). Start even when recovery cannot account for damage inside committed data. Default false.</summary>
    public bool RecoverSkipCorrupt { get; set; }
}

/// <summary>
/// TOML section <c>[cluster]</c> (issue 11). With <see cref="NatsUrl"/> unset the server is a single node on the
/// embedded FASTER store; with it set, NATS JetStream is the store of record shared by every node.
/// </summary>
public sealed class ClusterOptions
{
    /// <summary>TOML <c>nats_url</c>, env <c>EMIT_HUB_CLUSTER_NATS_URL</c>. One or several NATS servers,
    /// comma-separated (<c>nats://a:4222,nats://b:4222</c>). Default unset: single node.</summary>
    public string? NatsUrl { get; set; }

    /// <summary>TOML <c>node_name</c>, env <c>EMIT_HUB_CLUSTER_NODE_NAME</c>. This node's name in logs and in the
    /// NATS connection name. Default unset: <c>&lt;host name&gt;:&lt;port&gt;</c>.</summary>
    public string? NodeName { get; set; }

    /// <summary>TOML <c>creds_file</c>, env <c>EMIT_HUB_CLUSTER_CREDS_FILE</c>. NATS credentials file (JWT + NKey seed).</summary>
    public string? CredsFile { get; set; }

    /// <summary>TOML <c>user</c>, env <c>EMIT_HUB_CLUSTER_USER</c>. NATS user name (with <see cref="Password"/>).</summary>
    public string? User { get; set; }

    /// <summary>TOML <c>password</c>, env <c>EMIT_HUB_CLUSTER_PASSWORD</c>. NATS password (secret).</summary>
    public string? Password { get; set; }

    /// <summary>TOML <c>token</c>, env <c>EMIT_HUB_CLUSTER_TOKEN</c>. NATS authentication token (secret).</summary>
    public string? Token { get; set; }

    /// <summary>TOML <c>tls_ca_file</c>, env <c>EMIT_HUB_CLUSTER_TLS_CA_FILE</c>. PEM CA bundle that signs the NATS
    /// servers' certificates; setting it (or a <c>tls://</c> URL) makes the connection use TLS.</summary>
    public string? TlsCaFile { get; set; }

    /// <summary>TOML <c>tls_cert_file</c>, env <c>EMIT_HUB_CLUSTER_TLS_CERT_FILE</c>. PEM client certificate (mutual TLS).</summary>
    public string? TlsCertFile { get; set; }

    /// <summary>TOML <c>tls_key_file</c>, env <c>EMIT_HUB_CLUSTER_TLS_KEY_FILE</c>. PEM key of <see cref="TlsCertFile"/>.</summary>
    public string? TlsKeyFile { get; set; }

    /// <summary>TOML <c>stream_replicas</c>, env <c>EMIT_HUB_CLUSTER_STREAM_REPLICAS</c>. JetStream replicas of the
    /// message stream and the channel bucket, 1–5 (3 survives the loss of one NATS server). Default 1.</summary>
    public int StreamReplicas { get; set; } = 1;

    /// <summary>TOML <c>unfollow_delay</c>, env <c>EMIT_HUB_CLUSTER_UNFOLLOW_DELAY</c>. Seconds a node keeps following
    /// a channel (its JetStream consumer open) after its last local subscriber left, 0–3600; a join within it reuses
    /// the follower. Default 30: the longest wait between two reconnect attempts of the bundled client
    /// (emithub.js <c>maxDelayMs</c>), so a display back from a network blip does not re-create the consumer.</summary>
    public int UnfollowDelay { get; set; } = 30;

    /// <summary>True when a NATS URL is configured.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(NatsUrl);
}

/// <summary>TOML section <c>[tls]</c>: HTTPS and <c>wss://</c> on the listening port. Both paths set, or neither.</summary>
public sealed class TlsOptions
{
    /// <summary>TOML <c>cert_path</c>, env <c>EMIT_HUB_TLS_CERT_PATH</c>. PEM certificate (leaf first, then intermediates). Default unset (plain HTTP).</summary>
    public string? CertPath { get; set; }

    /// <summary>TOML <c>key_path</c>, env <c>EMIT_HUB_TLS_KEY_PATH</c>. PEM private key of the certificate, unencrypted. Default unset.</summary>
    public string? KeyPath { get; set; }

    /// <summary>True when TLS is configured.</summary>
    public bool Enabled => !string.IsNullOrEmpty(CertPath) && !string.IsNullOrEmpty(KeyPath);
}
