using System.CommandLine;
using System.CommandLine.Invocation;
using System.Text;
using EmitHub.Cli.Configuration;
using EmitHub.Cli.Hosting;
using EmitHub.Cli.Logging;
using EmitHub.Core.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EmitHub.Cli;

/// <summary>
/// The <c>emit-hub</c> command line (System.CommandLine): options, <c>--generate-config</c>,
/// <c>--show-env-vars</c>, <c>--version</c>, and the server run. Exit codes: 0 success or graceful stop,
/// 1 the server failed at runtime, 2 invalid command line or configuration.
/// </summary>
public static class EmitHubCli
{
    /// <summary>Exit code for a command line or configuration that is not valid.</summary>
    public const int ExitConfigError = 2;

    /// <summary>Exit code when the server fails to start or crashes.</summary>
    public const int ExitRuntimeError = 1;

    private const string ConfigOption = "--config";
    private const string GenerateConfigOption = "--generate-config";
    private const string ShowEnvVarsOption = "--show-env-vars";
    private const string HostOption = "--host";
    private const string PortOption = "--port";
    private const string LogLevelOption = "--log-level";
    private const string RecoverSkipCorruptOption = "--recover-skip-corrupt";

    /// <summary>Parses <paramref name="args"/> and runs the command. Returns the process exit code.</summary>
    /// <param name="args">The process arguments.</param>
    /// <param name="configureServices">Passed to <see cref="EmitHubHost.Build"/> (tests, or the lead's wiring).</param>
    public static async Task<int> RunAsync(string[] args, Action<IServiceCollection>? configureServices = null)
    {
        // Logs carry the seed's emoji and JSON lines must be UTF-8, whatever LANG says (LANG=C in some images).
        Console.OutputEncoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
        var root = CreateRootCommand(configureServices);
        var parseResult = root.Parse(args);
        if (parseResult.Action is ParseErrorAction)
        {
            foreach (var error in parseResult.Errors)
            {
                await Console.Error.WriteLineAsync($"emit-hub: {error.Message}").ConfigureAwait(false);
            }
            await Console.Error.WriteLineAsync("Run 'emit-hub --help' for usage.").ConfigureAwait(false);
            return ExitConfigError;
        }
        // ProcessTerminationTimeout = null: System.CommandLine must not handle SIGINT/SIGTERM (by default it
        // force-exits 2 s after the signal). The host's console lifetime does the graceful stop instead.
        var invocation = new InvocationConfiguration { ProcessTerminationTimeout = null };
        return await parseResult.InvokeAsync(invocation).ConfigureAwait(false);
    }

    /// <summary>Builds the root command with every option and its action (new option objects on each call).</summary>
    public static RootCommand CreateRootCommand(Action<IServiceCollection>? configureServices = null)
    {
        var config = new Option<string?>(ConfigOption, "-c")
        {
            Description = "TOML configuration file (default: EMIT_HUB_CONFIG, else ./emit_hub.toml if present).",
            HelpName = "PATH",
        };

        var generateConfig = new Option<bool>(GenerateConfigOption)
        {
            Description = "Print a complete, commented emit_hub.toml with every key at its default, and exit.",
        };

        var showEnvVars = new Option<bool>(ShowEnvVarsOption)
        {
            Description = "List every EMIT_HUB_* environment variable with its meaning, default and current value, and exit.",
        };

        // Values are taken as text and validated by the configuration loader, so a bad --port gets the same
        // sentence and exit code as a bad port in the file.
        var host = new Option<string?>(HostOption)
        {
            Description = "Address to bind; overrides host (TOML) and EMIT_HUB_HOST.",
            HelpName = "ADDRESS",
        };

        var port = new Option<string?>(PortOption, "-p")
        {
            Description = "TCP port (1-65535); overrides port (TOML) and EMIT_HUB_PORT.",
            HelpName = "PORT",
        };

        var logLevel = new Option<string?>(LogLevelOption)
        {
            Description = "trace, debug, info, warn or error; overrides log_level (TOML) and EMIT_HUB_LOG_LEVEL.",
            HelpName = "LEVEL",
        };

        var recoverSkipCorrupt = new Option<bool>(RecoverSkipCorruptOption)
        {
            Description = "Start even when the store is damaged inside committed data in a way recovery cannot fully account for (a channel record was lost): keep every record that still verifies, record the lost sequences, and report them in the log and /ready. Without it such a store refuses to start.",
        };

        var root = new RootCommand("EmitHub - self-hosted real-time broadcasting hub (REST channels, WebSocket clients). The running server documents itself at /docs, serves its browser client at /client/emithub.js and an admin console at /console.")
        {
            config,
            generateConfig,
            showEnvVars,
            host,
            port,
            logLevel,
            recoverSkipCorrupt,
        };
        foreach (var option in root.Options)
        {
            if (option is VersionOption version)
            {
                version.Action = new PrintVersionAction();
            }
        }
        root.SetAction((parseResult, cancellationToken) => InvokeAsync(parseResult, configureServices));
        return root;
    }

    /// <summary>The command-line options that override configuration keys, in precedence order.</summary>
    public static IReadOnlyList<CommandLineOverride> GetOverrides(ParseResult parseResult)
    {
        var overrides = new List<CommandLineOverride>();
        Add(HostOption, "host");
        Add(PortOption, "port");
        Add(LogLevelOption, "log_level");
        return overrides;

        void Add(string option, string key)
        {
            if (parseResult.GetValue<string?>(option) is { } value)
            {
                overrides.Add(new CommandLineOverride(option, key, value));
            }
        }
    }

    private static async Task<int> InvokeAsync(ParseResult parseResult, Action<IServiceCollection>? configureServices)
    {
        var output = parseResult.InvocationConfiguration.Output;
        if (parseResult.GetValue<bool>(GenerateConfigOption))
        {
            await output.WriteAsync(ConfigTemplate.Generate()).ConfigureAwait(false);
            await output.FlushAsync().ConfigureAwait(false);
            return 0;
        }
        var environment = ConfigFile.ReadProcessEnvironment();
        if (parseResult.GetValue<bool>(ShowEnvVarsOption))
        {
            await output.WriteAsync(EnvVarReport.Generate(environment)).ConfigureAwait(false);
            await output.FlushAsync().ConfigureAwait(false);
            return 0;
        }

        var file = ConfigFile.Locate(parseResult.GetValue<string?>(ConfigOption), environment);
        var overrides = GetOverrides(parseResult);
        var loaded = ConfigFile.Load(file, environment, overrides);
        if (!loaded.IsValid)
        {
            return await ReportConfigErrorsAsync(loaded.Errors.Select(e => e.Message)).ConfigureAwait(false);
        }
        if (File.Exists(loaded.Options.DbPath))
        {
            return await ReportConfigErrorsAsync(
                [$"db_path \"{loaded.Options.DbPath}\" is an existing file: db_path must be a directory (created if missing)."])
                .ConfigureAwait(false);
        }

        if (ValidateTls(loaded.Options.Tls) is { } tlsError)
        {
            return await ReportConfigErrorsAsync([tlsError]).ConfigureAwait(false);
        }

        loaded.Options.Persistence.RecoverSkipCorrupt = parseResult.GetValue<bool>(RecoverSkipCorruptOption);
        var startup = new StartupConfiguration(loaded, file, environment, overrides);
        return await RunServerAsync(startup, configureServices).ConfigureAwait(false);
    }

    /// <summary>Null when [tls] is unset or names a loadable certificate and key; else the sentence to report.</summary>
    private static string? ValidateTls(EmitHub.Core.Configuration.TlsOptions tls)
    {
        if (string.IsNullOrEmpty(tls.CertPath) != string.IsNullOrEmpty(tls.KeyPath))
        {
            return "[tls] cert_path and key_path must be set together (EMIT_HUB_TLS_CERT_PATH, EMIT_HUB_TLS_KEY_PATH): one names the PEM certificate, the other its PEM private key; leave both unset for plain HTTP.";
        }
        return tls.Enabled ? EmitHub.Net.Transport.TlsCertificateSource.Validate(tls.CertPath!, tls.KeyPath!) : null;
    }

    private static async Task<int> ReportConfigErrorsAsync(IEnumerable<string> errors)
    {
        await Console.Error.WriteLineAsync("emit-hub: the configuration is not valid:").ConfigureAwait(false);
        foreach (var error in errors)
        {
            await Console.Error.WriteLineAsync("  " + error).ConfigureAwait(false);
        }
        return ExitConfigError;
    }

    private static async Task<int> RunServerAsync(StartupConfiguration startup, Action<IServiceCollection>? configureServices)
    {
        var live = new LiveOptions(startup.Loaded.Options);
        using var loggerProvider = new EmitHubConsoleLoggerProvider(live);
        if (live.Startup.LogFormat == "text")
        {
            // The seed's banner before the first log line; where the seed printed a placeholder repository URL,
            // the address of this server's own reference page.
            await Console.Out.WriteAsync(
                $"🚀 EmitHub - Real-time Broadcasting Service\n   Version: {BuildInfo.Version}\n   Docs: {BuildInfo.DocsUrl(live.Startup)}\n\n")
                .ConfigureAwait(false);
            await Console.Out.FlushAsync().ConfigureAwait(false);
        }

        var logger = loggerProvider.CreateLogger(HostLog.Category);
        try
        {
            using var host = EmitHubHost.Build(startup, live, loggerProvider, configureServices);
            await host.RunAsync().ConfigureAwait(false);
            return 0;
        }
        catch (OperationCanceledException)
        {
            // SIGINT/SIGTERM arrived while the server was still starting: that is a stop, not a failure (SPEC §1).
            return 0;
        }
        catch (HubStartupException ex)
        {
            // An operator's problem (port taken, store in use): one sentence, no stack trace.
            await Console.Error.WriteLineAsync("emit-hub: " + ex.Message).ConfigureAwait(false);
            return ExitRuntimeError;
        }
        catch (Exception ex)
        {
            HostLog.StartupFailed(logger, ex);
            return ExitRuntimeError;
        }
    }

    private sealed class PrintVersionAction : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine($"emit-hub {BuildInfo.Version}");
            return 0;
        }
    }
}
