using System.Net;
using System.Net.Sockets;
using EmitHub.Cluster;
using EmitHub.Core.Cluster;
using EmitHub.Core.Channels;
using EmitHub.Core.Configuration;
using EmitHub.Core.Storage;
using EmitHub.Net.Server;
using EmitHub.Net.WebSockets;
using Microsoft.Extensions.Logging;

namespace EmitHub.Cli.Hosting;

/// <summary>
/// The server as the host runs it: the FASTER store in <c>db_path</c>, the channel registry recovered from it,
/// the HTTP/WebSocket server on <c>host:port</c>, and the store upkeep loop (retention, backups).
/// Start order: recover, then listen, so no request sees a half-loaded registry. Stop order (SPEC §1): stop
/// accepting and close every WebSocket with 1001, then flush and close the store.
/// </summary>
public sealed class HubRuntime : IHubRuntime, IAsyncDisposable
{
    private readonly LiveOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private IChannelStore? _store;
    private ChannelRegistry? _registry;
    private HubServer? _server;
    private Task _maintenance = Task.CompletedTask;

    /// <summary>Creates the runtime (resolved from DI); nothing runs until <see cref="StartAsync"/>.</summary>
    public HubRuntime(LiveOptions options, ILoggerFactory loggerFactory, TimeProvider time)
    {
        _options = options;
        _loggerFactory = loggerFactory;
        _time = time;
    }

    /// <summary>The running server (null before start); tests read its bound port.</summary>
    public HubServer? Server => _server;

    /// <inheritdoc />
    public async ValueTask StartAsync(CancellationToken cancellationToken)
    {
        var startup = _options.Startup;
        var cluster = _options.Current.Cluster;
        _store = cluster.Enabled
            ? new JetStreamClusterStore(cluster, _options.Current.Persistence, NodeName(cluster, startup.Port), _time, _loggerFactory)
            : new FasterChannelStore(new FasterChannelStoreOptions
                {
                    DirectoryPath = startup.DbPath,
                    MaxPendingMessages = startup.Persistence.MaxPendingMessages,
                    RecoverSkipCorrupt = startup.Persistence.RecoverSkipCorrupt,
#if EMITHUB_TEST_HOOKS
                    // Test hook, not in published binaries; outside the EMIT_HUB_ prefix, so no config surface: a disk that stalls on demand.
                    StallWritesWhileFileExists = Environment.GetEnvironmentVariable("EMITHUB_TEST_STORE_STALL_FILE"),
#endif
                },
                _loggerFactory.CreateLogger<FasterChannelStore>());
        _registry = new ChannelRegistry(_options, _store, WebSocketFrameEncoder.Instance, _time, _loggerFactory.CreateLogger<ChannelRegistry>());
        try
        {
            await _registry.InitializeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ClusterUnavailableException or StoreInUseException or StoreCorruptException)
        {
            throw new HubStartupException(ex.Message, ex);
        }
        _server = new HubServer(_options, _registry, _loggerFactory, _time);
        try
        {
            await _server.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied or SocketError.AddressNotAvailable)
        {
            var why = ex.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => "is already in use by another process",
                SocketError.AccessDenied => "needs privileges this process does not have",
                _ => "is not an address of this machine",
            };
            throw new HubStartupException(
                $"cannot listen on {startup.Host}:{startup.Port}: the address {why}. Stop the other process or choose another with --port / EMIT_HUB_PORT / port in emit_hub.toml (--host / EMIT_HUB_HOST for the address).", ex);
        }
        if (!cluster.Enabled)
        {
            // In a cluster JetStream's stream limits apply retention, and backups are NATS's (stream backup).
            var maintenance = new StoreMaintenance(_registry, _options, _time, _loggerFactory.CreateLogger<StoreMaintenance>());
            _maintenance = Task.Run(() => maintenance.RunAsync(_stopping.Token), CancellationToken.None);
        }
    }

    /// <summary><c>[cluster] node_name</c>, else <c>&lt;host name&gt;:&lt;port&gt;</c>.</summary>
    private static string NodeName(ClusterOptions cluster, int port) => cluster.NodeName ?? $"{Dns.GetHostName()}:{port}";

    /// <inheritdoc />
    public async ValueTask StopAsync(CancellationToken cancellationToken)
    {
        _stopping.Cancel();
        if (_server is not null)
        {
            await _server.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        await _maintenance.ConfigureAwait(false);
        if (_registry is not null)
        {
            if (_registry.IsRecovered)
            {
                // Only a recovered store has anything to flush; a start that failed before must not mask its cause.
                await _registry.ShutdownAsync(cancellationToken).ConfigureAwait(false);
            }
            await _registry.DisposeAsync().ConfigureAwait(false);
            _registry = null;
        }
        if (_store is not null)
        {
            await _store.DisposeAsync().ConfigureAwait(false);
            _store = null;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_store is not null)
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
        _stopping.Dispose();
    }
}

/// <summary>A startup failure an operator can fix (address in use, store directory in use); reported as one
/// sentence without a stack trace, exit code 1.</summary>
public sealed class HubStartupException : Exception
{
    /// <summary>Creates the exception with the operator-facing sentence.</summary>
    public HubStartupException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
