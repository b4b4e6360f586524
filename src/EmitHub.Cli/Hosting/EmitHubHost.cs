using EmitHub.Cli.Logging;
using EmitHub.Core.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EmitHub.Cli.Hosting;

/// <summary>
/// Builds the generic host for the server: no configuration providers (our own loader already ran), our console
/// logger, SIGINT/SIGTERM handled by the console lifetime (graceful stop, then exit 0), the hot-reload poller and
/// <see cref="EmitHubHostedService"/>.
/// </summary>
public static class EmitHubHost
{
    /// <summary>Time the host gives hosted services to stop after SIGINT/SIGTERM.</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Builds the host.</summary>
    /// <param name="startup">The validated startup configuration.</param>
    /// <param name="live">The live options, registered as a singleton for every component.</param>
    /// <param name="loggerProvider">The console logger; owned by the caller so it can log after the host is gone.</param>
    /// <param name="configureServices">Last-word registrations (tests replace <see cref="IHubRuntime"/> or <see cref="TimeProvider"/>).</param>
    public static IHost Build(StartupConfiguration startup, LiveOptions live, ILoggerProvider loggerProvider,
        Action<IServiceCollection>? configureServices = null)
    {
        // The empty builder reads no appsettings.json, environment or command line: configuration is ours alone,
        // and it avoids the reflection-based configuration binder.
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings
        {
            ApplicationName = "emit-hub",
            ContentRootPath = Directory.GetCurrentDirectory(),
        });

        builder.Logging.ClearProviders();
        // Our provider decides per call from LiveOptions, so the factory must let everything through.
        builder.Logging.SetMinimumLevel(LogLevel.Trace);
        builder.Logging.AddProvider(loggerProvider);
        // Evaluated per call, so a hot-reloaded log_level = "debug" brings the NATS client's lines back.
        var configuredLevel = loggerProvider is EmitHubConsoleLoggerProvider console ? console : null;
        builder.Logging.AddFilter((category, level) =>
            NatsClientLogFilter.Allows(category, level, configuredLevel?.MinimumLevel ?? LogLevel.Information));

        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = ShutdownTimeout);
        // Under systemd (deploy/emit-hub.service, Type=notify): READY=1 once the listener is up, STOPPING=1 on SIGTERM.
        // Elsewhere this registers nothing and the console lifetime stays.
        builder.Services.AddSystemd();

        builder.Services.AddSingleton(live);
        builder.Services.AddSingleton(startup);
        builder.Services.AddSingleton(TimeProvider.System);

        // The server: store, channel registry, HTTP/WebSocket listener and store upkeep (tests may replace it).
        builder.Services.AddSingleton<IHubRuntime, HubRuntime>();

        builder.Services.AddHostedService<EmitHubHostedService>();
        builder.Services.AddHostedService<ConfigReloadService>();

        configureServices?.Invoke(builder.Services);
        return builder.Build();
    }
}
