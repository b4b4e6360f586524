namespace EmitHub.Cli.Hosting;

/// <summary>
/// SEAM for wiring the server into the host: the HTTP/WebSocket listener, the channel registry and the store.
/// <see cref="EmitHubHostedService"/> calls <see cref="StartAsync"/> after the startup lines and before
/// "✅ Application state initialized successfully", and <see cref="StopAsync"/> on SIGINT/SIGTERM.
/// Replace the <see cref="NullHubRuntime"/> registration in <see cref="EmitHubHost.Build"/> with the real one.
/// </summary>
public interface IHubRuntime
{
    /// <summary>
    /// Recovers the store, initializes the channel registry and starts accepting connections on
    /// <c>LiveOptions.Startup.Host:Port</c>. Throwing fails startup (logged as critical, exit code 1).
    /// </summary>
    ValueTask StartAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Graceful stop (SPEC §1): stop accepting, send close 1001 to every WebSocket, flush the store.
    /// <paramref name="cancellationToken"/> fires when the host's shutdown timeout (10 s) runs out.
    /// </summary>
    ValueTask StopAsync(CancellationToken cancellationToken);
}

/// <summary>Placeholder runtime that serves nothing; used until the server is wired in, and by host tests.</summary>
public sealed class NullHubRuntime : IHubRuntime
{
    /// <inheritdoc />
    public ValueTask StartAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <inheritdoc />
    public ValueTask StopAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
