using EmitHub.Cli.Configuration;
using EmitHub.Core.Configuration;
using static EmitHub.Tests.Config.ConfigTestHelpers;

namespace EmitHub.Tests.Config;

public class ConfigLoaderTests
{
    [Fact]
    public void No_file_no_environment_and_no_options_give_the_spec_defaults()
    {
        var result = ConfigLoader.Load(new ConfigSources());

        Assert.True(result.IsValid);
        Assert.Empty(result.Diagnostics);
        var o = result.Options;
        Assert.Equal("127.0.0.1", o.Host);
        Assert.Equal(8080, o.Port);
        Assert.Equal("emit_hub_data", o.DbPath);
        Assert.Equal(1000, o.MaxConnectionsPerChannel);
        Assert.Equal(1_048_576, o.MessageSizeLimit);
        Assert.Equal("info", o.LogLevel);
        Assert.Equal("text", o.LogFormat);
        Assert.Null(o.ApiKey);
        Assert.Equal(["localhost"], o.Cors.AllowedOrigins);
        Assert.Equal(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"], o.Cors.AllowedMethods);
        Assert.Equal(["Content-Type", "Authorization", "Accept"], o.Cors.AllowedHeaders);
        Assert.Equal(3600, o.Cors.MaxAge);
        Assert.Equal(30, o.WebSocket.ConnectionTimeout);
        Assert.Null(o.WebSocket.MaxContinuationSize);
        Assert.Equal(30, o.WebSocket.PingInterval);
        Assert.Equal(10, o.WebSocket.PongTimeout);
        Assert.Equal(1_048_576, o.WebSocket.MaxPendingBytes);
        Assert.Null(o.WebSocket.EchoPath);
        Assert.False(o.Persistence.PersistMessagesDefault);
        Assert.Equal(10_000, o.Persistence.MaxMessagesPerChannel);
        Assert.Equal(30, o.Persistence.MessageRetentionDays);
        Assert.False(o.Persistence.AutoBackup);
        Assert.Equal(24, o.Persistence.BackupIntervalHours);
    }

    [Fact]
    public void The_seed_example_file_loads_with_every_value()
    {
        // The seed's emit_hub.toml, verbatim.
        const string seed = """
            host = "0.0.0.0"
            port = 3000
            db_path = "./data/emit_hub.redb"
            max_connections_per_channel = 5000
            message_size_limit = 2097152
            log_level = "debug"

            [cors]
            allowed_origins = ["*"]
            allowed_methods = ["GET", "POST", "PUT", "DELETE", "OPTIONS"]
            allowed_headers = ["Content-Type", "Authorization", "Accept"]
            max_age = 7200

            [websocket]
            connection_timeout = 60
            max_continuation_size = 2097152
            ping_interval = 45
            pong_timeout = 15

            [persistence]
            persist_messages_default = true
            max_messages_per_channel = 50000
            message_retention_days = 90
            auto_backup = true
            backup_interval_hours = 12
            """;

        var result = LoadToml(seed);

        Assert.Empty(result.Diagnostics);
        var o = result.Options;
        Assert.Equal("0.0.0.0", o.Host);
        Assert.Equal(3000, o.Port);
        // A seed-style file name is kept as is: the store uses it as a directory name.
        Assert.Equal("./data/emit_hub.redb", o.DbPath);
        Assert.Equal(5000, o.MaxConnectionsPerChannel);
        Assert.Equal(2_097_152, o.MessageSizeLimit);
        Assert.Equal("debug", o.LogLevel);
        Assert.Equal(["*"], o.Cors.AllowedOrigins);
        Assert.Equal(["GET", "POST", "PUT", "DELETE", "OPTIONS"], o.Cors.AllowedMethods);
        Assert.Equal(7200, o.Cors.MaxAge);
        Assert.Equal(60, o.WebSocket.ConnectionTimeout);
        Assert.Equal(2_097_152, o.WebSocket.MaxContinuationSize);
        Assert.Equal(45, o.WebSocket.PingInterval);
        Assert.Equal(15, o.WebSocket.PongTimeout);
        Assert.True(o.Persistence.PersistMessagesDefault);
        Assert.Equal(50_000, o.Persistence.MaxMessagesPerChannel);
        Assert.Equal(90, o.Persistence.MessageRetentionDays);
        Assert.True(o.Persistence.AutoBackup);
        Assert.Equal(12, o.Persistence.BackupIntervalHours);
    }

    [Theory]
    [InlineData("port", "EMIT_HUB_PORT", "--port", "1000", "2000", "3000")]
    [InlineData("host", "EMIT_HUB_HOST", "--host", "\"10.0.0.1\"", "10.0.0.2", "10.0.0.3")]
    [InlineData("log_level", "EMIT_HUB_LOG_LEVEL", "--log-level", "\"debug\"", "warn", "error")]
    public void Each_layer_overrides_the_one_below(string key, string env, string option, string tomlValue,
        string envValue, string cliValue)
    {
        var defaults = ConfigKeys.ByPath(key)!.FormatDisplay(new EmitHubOptions());
        var toml = $"{key} = {tomlValue}\n";
        var envs = new Dictionary<string, string> { [env] = envValue };
        var cli = new CommandLineOverride(option, key, cliValue);

        string? Value(ConfigLoadResult r)
        {
            Assert.True(r.IsValid, string.Join("\n", r.Diagnostics));
            return ConfigKeys.ByPath(key)!.FormatDisplay(r.Options);
        }

        Assert.Equal(defaults, Value(ConfigLoader.Load(new ConfigSources())));
        Assert.Equal(tomlValue.Trim('"'), Value(LoadToml(toml)));
        Assert.Equal(envValue, Value(LoadToml(toml, envs)));
        Assert.Equal(cliValue, Value(LoadToml(toml, envs, cli)));
        // Each layer also works without the ones below it.
        Assert.Equal(envValue, Value(ConfigLoader.Load(new ConfigSources { Environment = envs })));
        Assert.Equal(cliValue, Value(ConfigLoader.Load(new ConfigSources { CommandLine = [cli] })));
    }

    [Fact]
    public void Environment_overrides_a_section_key_of_the_file()
    {
        var result = LoadToml("[websocket]\nping_interval = 20\n",
            new Dictionary<string, string> { ["EMIT_HUB_WS_PING_INTERVAL"] = "40" });

        Assert.Equal(40, result.Options.WebSocket.PingInterval);
    }

    // Every variable of the seed, SPEC §1 and issue 12's [tls] (except EMIT_HUB_CONFIG, which names the file), with a value
    // different from the default and the key it must set.
    public static TheoryData<string, string, string, string> EnvironmentVariables => new()
    {
        { "EMIT_HUB_HOST", "0.0.0.0", "host", "\"0.0.0.0\"" },
        { "EMIT_HUB_PORT", "3000", "port", "3000" },
        { "EMIT_HUB_LOG_LEVEL", "debug", "log_level", "\"debug\"" },
        { "EMIT_HUB_DB_PATH", "./data/hub.redb", "db_path", "\"./data/hub.redb\"" },
        { "EMIT_HUB_MAX_CONNECTIONS", "5000", "max_connections_per_channel", "5000" },
        { "EMIT_HUB_MESSAGE_SIZE_LIMIT", "2097152", "message_size_limit", "2097152" },
        { "EMIT_HUB_WS_TIMEOUT", "60", "websocket.connection_timeout", "60" },
        { "EMIT_HUB_WS_PING_INTERVAL", "45", "websocket.ping_interval", "45" },
        { "EMIT_HUB_CORS_ORIGINS", "https://a.example, http://b.example:8080", "cors.allowed_origins", "[\"https://a.example\", \"http://b.example:8080\"]" },
        { "EMIT_HUB_PERSIST_MESSAGES", "true", "persistence.persist_messages_default", "true" },
        { "EMIT_HUB_MESSAGE_RETENTION_DAYS", "90", "persistence.message_retention_days", "90" },
        { "EMIT_HUB_AUTO_BACKUP", "true", "persistence.auto_backup", "true" },
        // Added by issue 9: the bound on messages waiting for their commit.
        { "EMIT_HUB_MAX_PENDING_MESSAGES", "250", "persistence.max_pending_messages", "250" },
        { "EMIT_HUB_API_KEY", "s3cr3t-token", "api_key", "\"s3cr3t-token\"" },
        { "EMIT_HUB_STATIC_DIR", "/srv/emit-hub/www", "static_dir", "\"/srv/emit-hub/www\"" },
        { "EMIT_HUB_LOG_FORMAT", "json", "log_format", "\"json\"" },
        // [cluster] (issue 11)
        { "EMIT_HUB_CLUSTER_NATS_URL", "nats://10.0.0.1:4222, nats://10.0.0.2:4222", "cluster.nats_url", "\"nats://10.0.0.1:4222,nats://10.0.0.2:4222\"" },
        { "EMIT_HUB_CLUSTER_NODE_NAME", "hub-a", "cluster.node_name", "\"hub-a\"" },
        { "EMIT_HUB_CLUSTER_CREDS_FILE", "/etc/nats.creds", "cluster.creds_file", "\"/etc/nats.creds\"" },
        { "EMIT_HUB_CLUSTER_USER", "hub", "cluster.user", "\"hub\"" },
        { "EMIT_HUB_CLUSTER_PASSWORD", "pw", "cluster.password", "\"pw\"" },
        { "EMIT_HUB_CLUSTER_TOKEN", "tok", "cluster.token", "\"tok\"" },
        { "EMIT_HUB_CLUSTER_TLS_CA_FILE", "/etc/ca.pem", "cluster.tls_ca_file", "\"/etc/ca.pem\"" },
        { "EMIT_HUB_CLUSTER_TLS_CERT_FILE", "/etc/c.pem", "cluster.tls_cert_file", "\"/etc/c.pem\"" },
        { "EMIT_HUB_CLUSTER_TLS_KEY_FILE", "/etc/c.key", "cluster.tls_key_file", "\"/etc/c.key\"" },
        { "EMIT_HUB_CLUSTER_STREAM_REPLICAS", "3", "cluster.stream_replicas", "3" },
        { "EMIT_HUB_CLUSTER_UNFOLLOW_DELAY", "5", "cluster.unfollow_delay", "5" },
        // Issue 14: permessage-deflate mode.
        { "EMIT_HUB_WS_COMPRESSION", "per_connection", "websocket.compression", "\"per_connection\"" },
        // Issue 10: send coalescing window.
        { "EMIT_HUB_WS_COALESCE_WINDOW_MS", "25", "websocket.coalesce_window_ms", "25" },
        { "EMIT_HUB_TOKEN_SECRET", "0123456789abcdef0123456789abcdef", "auth.token_secret", "\"0123456789abcdef0123456789abcdef\"" },
        { "EMIT_HUB_TOKEN_PUBLIC_KEY", s_publicKeyPath.Value, "auth.token_public_key", "\"" + s_publicKeyPath.Value + "\"" },
        { "EMIT_HUB_TLS_CERT_PATH", "/etc/emit-hub/tls/fullchain.pem", "tls.cert_path", "\"/etc/emit-hub/tls/fullchain.pem\"" },
        { "EMIT_HUB_TLS_KEY_PATH", "/etc/emit-hub/tls/privkey.pem", "tls.key_path", "\"/etc/emit-hub/tls/privkey.pem\"" },
        // Issue 9: memory caps.
        { "EMIT_HUB_MAX_CHANNELS", "500", "max_channels", "500" },
        { "EMIT_HUB_REPLAY_LAST_MAX_BYTES", "1048576", "replay_last_max_bytes", "1048576" },
        { "EMIT_HUB_CATCH_UP_RING_MAX_BYTES", "2097152", "catch_up_ring_max_bytes", "2097152" },
    };

    /// <summary>A P-256 public key PEM in a temp file, for <c>EMIT_HUB_TOKEN_PUBLIC_KEY</c> (the key is read when loaded).</summary>
    private static readonly Lazy<string> s_publicKeyPath = new(() =>
    {
        var path = Path.Combine(Path.GetTempPath(), "emithub-config-test-public.pem");
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        File.WriteAllText(path, key.ExportSubjectPublicKeyInfoPem());
        return path;
    });

    [Theory]
    [InlineData("http://127.0.0.1:4222")]
    [InlineData("nats://")]
    [InlineData("nats://a:4222,,")]
    public void A_nats_url_that_is_not_a_list_of_nats_urls_is_refused_naming_the_key(string value)
    {
        var result = LoadEnv(("EMIT_HUB_CLUSTER_NATS_URL", value));

        Assert.False(result.IsValid);
        var error = Assert.Single(result.Errors);
        Assert.Contains("EMIT_HUB_CLUSTER_NATS_URL", error.Message, StringComparison.Ordinal);
        Assert.Contains("scheme nats, tls, ws or wss", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(EnvironmentVariables))]
    public void Every_environment_variable_sets_its_key(string env, string value, string key, string expectedToml)
    {
        var result = LoadEnv((env, value));

        Assert.Empty(result.Diagnostics);
        Assert.Equal(expectedToml, ConfigKeys.ByPath(key)!.FormatToml(result.Options));
        // Nothing else moved.
        var defaults = new EmitHubOptions();
        foreach (var other in ConfigKeys.All.Where(k => k.Path != key))
        {
            Assert.True(other.ValueEquals(defaults, result.Options), other.Path);
        }
    }

    [Fact]
    public void The_key_table_has_exactly_the_environment_variables_of_the_seed_and_spec()
    {
        var expected = EnvironmentVariables.Select(row => (string)row[0]).Order().ToArray();
        var actual = ConfigKeys.All.Select(k => k.EnvName).OfType<string>().Order().ToArray();

        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("yes", true)]
    [InlineData("TRUE", true)]
    [InlineData("0", false)]
    [InlineData("off", false)]
    public void Boolean_variables_accept_the_usual_spellings(string text, bool expected)
    {
        var result = LoadEnv(("EMIT_HUB_AUTO_BACKUP", text));

        Assert.True(result.IsValid);
        Assert.Equal(expected, result.Options.Persistence.AutoBackup);
    }

    [Fact]
    public void An_empty_variable_counts_as_unset()
    {
        var result = LoadToml("port = 1234\n", new Dictionary<string, string> { ["EMIT_HUB_PORT"] = "" });

        Assert.True(result.IsValid);
        Assert.Equal(1234, result.Options.Port);
    }

    [Theory]
    [InlineData("[cors]\nmax_age = 60\n")]
    [InlineData("cors.max_age = 60\n")]
    [InlineData("cors = { max_age = 60 }\n")]
    public void A_section_key_may_be_written_as_table_dotted_key_or_inline_table(string toml)
    {
        var result = LoadToml(toml);

        Assert.Empty(result.Diagnostics);
        Assert.Equal(60, result.Options.Cors.MaxAge);
    }

    [Fact]
    public void Origins_are_normalized_like_an_Origin_header()
    {
        var result = LoadToml("[cors]\nallowed_origins = [\"HTTPS://Example.com/\", \"http://a.example:80\", \"LOCALHOST\"]\n");

        Assert.Empty(result.Diagnostics);
        Assert.Equal(["https://example.com", "http://a.example", "localhost"], result.Options.Cors.AllowedOrigins);
    }

    [Fact]
    public void An_unknown_key_is_a_warning_with_its_line_and_a_suggestion()
    {
        const string toml = "host = \"0.0.0.0\"\n\n[websocket]\nping_intervall = 5\n";

        var result = LoadToml(toml);

        Assert.True(result.IsValid);
        var warning = Assert.Single(result.Diagnostics);
        Assert.Equal(ConfigSeverity.Warning, warning.Severity);
        Assert.Equal(4, warning.Line);
        Assert.Equal("x.toml line 4: unknown key websocket.ping_intervall is ignored (did you mean websocket.ping_interval?).",
            warning.Message);
        Assert.Equal(30, result.Options.WebSocket.PingInterval);
        Assert.Equal("0.0.0.0", result.Options.Host);
    }

    [Fact]
    public void An_unknown_table_is_one_warning_with_its_line()
    {
        var result = LoadToml("port = 9000\n[metrics]\nenabled = true\nport = 9100\n");

        Assert.True(result.IsValid);
        var warning = Assert.Single(result.Diagnostics);
        Assert.Equal("x.toml line 2: unknown table [metrics] is ignored.", warning.Message);
        Assert.Equal(9000, result.Options.Port);
    }

    [Fact]
    public void An_unknown_environment_variable_is_a_warning_with_a_suggestion()
    {
        var result = LoadEnv(("EMIT_HUB_PROT", "9000"), ("OTHER_VAR", "x"));

        Assert.True(result.IsValid);
        var warning = Assert.Single(result.Diagnostics);
        Assert.Equal("Unknown environment variable EMIT_HUB_PROT is ignored (did you mean EMIT_HUB_PORT?).", warning.Message);
    }

    // Each kind of bad value in the file: the sentence names the file line, the key, the value and what is allowed.
    [Theory]
    [InlineData("port = 0", "x.toml line 1: port = 0 is not valid: port must be an integer from 1 to 65535.")]
    [InlineData("port = 65536", "x.toml line 1: port = 65536 is not valid: port must be an integer from 1 to 65535.")]
    [InlineData("port = \"8080\"", "x.toml line 1: port = \"8080\" has the wrong type (string): port must be an integer from 1 to 65535.")]
    [InlineData("port = 80.5", "x.toml line 1: port = 80.5 has the wrong type (float): port must be an integer from 1 to 65535.")]
    [InlineData("max_connections_per_channel = -5", "x.toml line 1: max_connections_per_channel = -5 is not valid: max_connections_per_channel must be an integer from 1 to 1000000.")]
    [InlineData("message_size_limit = -1", "x.toml line 1: message_size_limit = -1 is not valid: message_size_limit must be an integer from 1 to 1073741824 bytes.")]
    [InlineData("log_level = \"verbose\"", "x.toml line 1: log_level = \"verbose\" is not valid: log_level must be one of \"trace\", \"debug\", \"info\", \"warn\", \"error\".")]
    [InlineData("log_format = \"xml\"", "x.toml line 1: log_format = \"xml\" is not valid: log_format must be one of \"text\", \"json\".")]
    [InlineData("host = \"\"", "x.toml line 1: host = \"\" is not valid: host must be an IP address or a host name.")]
    [InlineData("db_path = 5", "x.toml line 1: db_path = 5 has the wrong type (integer): db_path must be a non-empty path.")]
    [InlineData("\n[websocket]\nping_interval = 0", "x.toml line 3: websocket.ping_interval = 0 is not valid: websocket.ping_interval must be an integer from 1 to 3600 seconds.")]
    [InlineData("[websocket]\nmax_pending_bytes = 10", "x.toml line 2: websocket.max_pending_bytes = 10 is not valid: websocket.max_pending_bytes must be an integer from 1024 to 1073741824 bytes.")]
    [InlineData("[websocket]\necho_path = \"echo\"", "x.toml line 2: websocket.echo_path = \"echo\" is not valid: websocket.echo_path must be a path starting with \"/\" without spaces, '?' or '#'.")]
    [InlineData("[cors]\nmax_age = -1", "x.toml line 2: cors.max_age = -1 is not valid: cors.max_age must be an integer from 0 to 86400 seconds.")]
    [InlineData("[cors]\nallowed_origins = \"*\"", "x.toml line 2: cors.allowed_origins = \"*\" has the wrong type (string): cors.allowed_origins must be a non-empty array of \"*\", \"localhost\", \"null\" or origins like \"https://example.com\" (scheme http or https, host, optional port, no path).")]
    [InlineData("[cors]\nallowed_origins = [\"ftp://x.example\"]", "x.toml line 2: cors.allowed_origins = [\"ftp://x.example\"] is not valid: cors.allowed_origins must be a non-empty array of \"*\", \"localhost\", \"null\" or origins like \"https://example.com\" (scheme http or https, host, optional port, no path).")]
    [InlineData("[cors]\nallowed_methods = [\"GET\", 1]", "x.toml line 2: cors.allowed_methods = [\"GET\", 1] is not valid: cors.allowed_methods must be a non-empty array of HTTP method names (RFC 9110 tokens).")]
    [InlineData("[persistence]\nauto_backup = \"yes\"", "x.toml line 2: persistence.auto_backup = \"yes\" has the wrong type (string): persistence.auto_backup must be true or false.")]
    [InlineData("[persistence]\nmessage_retention_days = 0", "x.toml line 2: persistence.message_retention_days = 0 is not valid: persistence.message_retention_days must be an integer from 1 to 36500 days.")]
    [InlineData("cors = 5", "x.toml line 1: cors = 5 has the wrong type (integer): cors must be a table ([cors]).")]
    [InlineData("[port]\nx = 1", "x.toml line 1: [port] is a table, but port must be an integer from 1 to 65535.")]
    public void A_bad_value_in_the_file_is_an_error_naming_line_key_value_and_range(string toml, string expected)
    {
        var result = LoadToml(toml);

        Assert.False(result.IsValid);
        var error = Assert.Single(result.Errors);
        Assert.Equal(expected, error.Message);
    }

    [Fact]
    public void The_api_key_value_is_never_shown_in_an_error()
    {
        var result = LoadToml("api_key = \"has a space\"");

        var error = Assert.Single(result.Errors);
        Assert.Equal("x.toml line 1: api_key = (hidden) is not valid: api_key must be a non-empty string of visible ASCII characters without spaces.",
            error.Message);
        Assert.DoesNotContain("has a space", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("EMIT_HUB_PORT", "abc", "Environment variable EMIT_HUB_PORT=\"abc\" is not valid: port must be an integer from 1 to 65535.")]
    [InlineData("EMIT_HUB_PORT", "0", "Environment variable EMIT_HUB_PORT=\"0\" is not valid: port must be an integer from 1 to 65535.")]
    [InlineData("EMIT_HUB_PERSIST_MESSAGES", "maybe", "Environment variable EMIT_HUB_PERSIST_MESSAGES=\"maybe\" is not valid: persistence.persist_messages_default must be true or false.")]
    [InlineData("EMIT_HUB_LOG_LEVEL", "loud", "Environment variable EMIT_HUB_LOG_LEVEL=\"loud\" is not valid: log_level must be one of \"trace\", \"debug\", \"info\", \"warn\", \"error\".")]
    [InlineData("EMIT_HUB_MAX_CONNECTIONS", "-1", "Environment variable EMIT_HUB_MAX_CONNECTIONS=\"-1\" is not valid: max_connections_per_channel must be an integer from 1 to 1000000.")]
    [InlineData("EMIT_HUB_TOKEN_SECRET", "too-short", "Environment variable EMIT_HUB_TOKEN_SECRET=\"(hidden)\" is not valid: auth.token_secret must be a string of at least 32 visible ASCII characters without spaces.")]
    [InlineData("EMIT_HUB_TOKEN_PUBLIC_KEY", "/nonexistent/key.pem", "Environment variable EMIT_HUB_TOKEN_PUBLIC_KEY=\"/nonexistent/key.pem\" is not valid: auth.token_public_key must be a path to a readable PEM file holding one RSA or P-256 EC public key.")]
    public void A_bad_environment_variable_is_an_error_naming_variable_value_and_range(string env, string value, string expected)
    {
        var result = LoadEnv((env, value));

        var error = Assert.Single(result.Errors);
        Assert.Equal(expected, error.Message);
    }

    [Fact]
    public void A_bad_command_line_option_is_an_error_naming_option_value_and_range()
    {
        var result = ConfigLoader.Load(new ConfigSources { CommandLine = [new CommandLineOverride("--port", "port", "70000")] });

        var error = Assert.Single(result.Errors);
        Assert.Equal("Option --port \"70000\" is not valid: port must be an integer from 1 to 65535.", error.Message);
    }

    [Fact]
    public void A_syntax_error_names_line_and_column()
    {
        var result = LoadToml("host = \"0.0.0.0\"\nport = = 1\n");

        Assert.False(result.IsValid);
        var first = result.Errors.First();
        Assert.Equal(2, first.Line);
        Assert.StartsWith("x.toml line 2, column 8: the file is not valid TOML: ", first.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_duplicate_key_is_an_error()
    {
        var result = LoadToml("port = 1\nport = 2\n");

        Assert.False(result.IsValid);
        Assert.Contains(result.Errors, e => e.Line == 2);
    }

    [Fact]
    public void Every_error_of_every_layer_is_reported_not_only_the_first()
    {
        var result = LoadToml("port = 0\nlog_level = \"x\"\n",
            new Dictionary<string, string> { ["EMIT_HUB_WS_TIMEOUT"] = "0" },
            new CommandLineOverride("--host", "host", "bad host"));

        Assert.Equal(4, result.Errors.Count());
    }
}
