using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using EmitHub.Core.Channels;
using EmitHub.Core.Configuration;
using EmitHub.Cli.Hosting;
using Microsoft.Extensions.Logging;

namespace EmitHub.Cli.Logging;

/// <summary>
/// Console logger whose level and format follow <see cref="LiveOptions"/>, so a hot-reloaded <c>log_level</c> or
/// <c>log_format</c> applies to the next log call. Text lines look like the seed's
/// (<c>2024-06-01T10:30:00.123Z  INFO emit_hub: 📡 Starting EmitHub on 0.0.0.0:8080</c>); JSON is one object per
/// line: <c>{"timestamp","level","target","message","event_id"?,"fields"?,"exception"?}</c>.
/// </summary>
/// <remarks>
/// Lines are formatted on the caller's thread and written by one background thread through a bounded queue
/// (1024 lines; a caller waits when it is full rather than growing memory without bound), the way
/// Microsoft.Extensions.Logging.Console does. Written by hand rather than through ConsoleFormatter because the
/// console provider binds its options from IConfiguration, which we do not use, and cannot change level live
/// from our own options.
/// </remarks>
public sealed class EmitHubConsoleLoggerProvider : ILoggerProvider
{
    private const int QueueCapacity = 1024;

    private readonly LiveOptions _options;
    private readonly TextWriter _output;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, Logger> _loggers = new(StringComparer.Ordinal);
    private readonly BlockingCollection<string> _queue = new(QueueCapacity);
    private readonly Thread _writerThread;
    private volatile int _minimumLevel;
    private volatile bool _json;

    /// <summary>Creates the provider and starts its writer thread.</summary>
    /// <param name="options">Live configuration; <c>log_level</c> and <c>log_format</c> are read from it.</param>
    /// <param name="output">Where lines go; standard output when null.</param>
    /// <param name="time">Clock for timestamps; the system clock when null.</param>
    public EmitHubConsoleLoggerProvider(LiveOptions options, TextWriter? output = null, TimeProvider? time = null)
    {
        _options = options;
        _output = output ?? Console.Out;
        _time = time ?? TimeProvider.System;
        Refresh(options.Current);
        options.Changed += OnOptionsChanged;
        _writerThread = new Thread(WriteLoop) { IsBackground = true, Name = "emit-hub console log" };
        _writerThread.Start();
    }

    /// <summary>The least severe level currently written.</summary>
    public LogLevel MinimumLevel => (LogLevel)_minimumLevel;

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) =>
        _loggers.GetOrAdd(categoryName, static (name, provider) => new Logger(name, provider), this);

    /// <summary>Stops accepting lines, writes what is queued (waiting at most 2 s) and flushes.</summary>
    public void Dispose()
    {
        _options.Changed -= OnOptionsChanged;
        _queue.CompleteAdding();
        _writerThread.Join(TimeSpan.FromSeconds(2));
        _output.Flush();
    }

    /// <summary>Maps a <c>log_level</c> name (trace, debug, info, warn, error) to a <see cref="LogLevel"/>.</summary>
    public static LogLevel ParseLevel(string name) => name switch
    {
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "warn" => LogLevel.Warning,
        "error" => LogLevel.Error,
        _ => LogLevel.Information,
    };

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace => "TRACE",
        LogLevel.Debug => "DEBUG",
        LogLevel.Information => "INFO",
        LogLevel.Warning => "WARN",
        _ => "ERROR",
    };

    private void OnOptionsChanged(EmitHubOptions previous, EmitHubOptions next) => Refresh(next);

    private void Refresh(EmitHubOptions options)
    {
        _minimumLevel = (int)ParseLevel(options.LogLevel);
        _json = options.LogFormat == "json";
    }

    private bool IsEnabled(string category, LogLevel level)
    {
        if (level == LogLevel.None || level < (LogLevel)_minimumLevel)
        {
            return false;
        }
        // The framework's own information messages (host lifetime, DI) are noise for an operator; they appear
        // from debug on, warnings always.
        return level >= LogLevel.Warning || _minimumLevel <= (int)LogLevel.Debug
            || !category.StartsWith("Microsoft.", StringComparison.Ordinal);
    }

    private void Enqueue(string line)
    {
        if (!_queue.IsAddingCompleted)
        {
            try
            {
                _queue.Add(line);
                return;
            }
            catch (InvalidOperationException)
            {
                // Completed between the check and the add: fall through and write directly.
            }
        }
        lock (_output)
        {
            _output.Write(line);
        }
    }

    private void WriteLoop()
    {
        try
        {
            foreach (var line in _queue.GetConsumingEnumerable())
            {
                lock (_output)
                {
                    _output.Write(line);
                    if (_queue.Count == 0)
                    {
                        _output.Flush();
                    }
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // Standard output went away (closed pipe): nothing left to log to.
        }
    }

    private string FormatText<TState>(string category, LogLevel level, TState state, Exception? exception,
        Func<TState, Exception?, string> formatter)
    {
        var sb = new StringBuilder(128);
        sb.Append(Rfc3339.ToString(_time.GetUtcNow()));
        sb.Append(' ').Append(LevelName(level).PadLeft(5)).Append(' ').Append(category).Append(": ");
        StringEscaping.AppendControlEscaped(sb, formatter(state, exception));
        if (exception is not null && exception is not HubStartupException)
        {
            sb.Append('\n').Append(exception);
        }
        sb.Append('\n');
        return sb.ToString();
    }

    private string FormatJson<TState>(string category, LogLevel level, EventId eventId, TState state,
        Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var sb = new StringBuilder(256);
        sb.Append("{\"timestamp\":\"")
            .Append(Rfc3339.ToString(_time.GetUtcNow()))
            .Append("\",\"level\":\"").Append(LevelName(level)).Append("\",\"target\":");
        StringEscaping.AppendQuoted(sb, category);
        sb.Append(",\"message\":");
        StringEscaping.AppendQuoted(sb, formatter(state, exception));
        if (eventId.Id != 0)
        {
            sb.Append(",\"event_id\":").Append(eventId.Id.ToString(CultureInfo.InvariantCulture));
        }
        if (state is IReadOnlyList<KeyValuePair<string, object?>> fields && fields.Count > 1)
        {
            sb.Append(",\"fields\":{");
            var first = true;
            foreach (var (name, value) in fields)
            {
                if (name == "{OriginalFormat}")
                {
                    continue;
                }
                if (!first)
                {
                    sb.Append(',');
                }
                first = false;
                StringEscaping.AppendQuoted(sb, name);
                sb.Append(':');
                AppendJsonValue(sb, value);
            }
            sb.Append('}');
        }
        if (exception is not null)
        {
            sb.Append(",\"exception\":");
            StringEscaping.AppendQuoted(sb, exception.ToString());
        }
        sb.Append("}\n");
        return sb.ToString();
    }

    private static void AppendJsonValue(StringBuilder sb, object? value)
    {
        switch (value)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case int or long or uint or ulong or short or ushort or byte or sbyte or decimal:
                sb.Append(((IFormattable)value).ToString(null, CultureInfo.InvariantCulture));
                break;
            case double d when double.IsFinite(d): sb.Append(d.ToString("R", CultureInfo.InvariantCulture)); break;
            case float f when float.IsFinite(f): sb.Append(f.ToString("R", CultureInfo.InvariantCulture)); break;
            case IFormattable formattable: StringEscaping.AppendQuoted(sb, formattable.ToString(null, CultureInfo.InvariantCulture)); break;
            default: StringEscaping.AppendQuoted(sb, value.ToString() ?? ""); break;
        }
    }

    private sealed class Logger(string category, EmitHubConsoleLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => provider.IsEnabled(category, logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            if (!provider.IsEnabled(category, logLevel) ||
                exception is HubStartupException or OperationCanceledException && category.StartsWith("Microsoft.", StringComparison.Ordinal))
            {
                // The host's own "failed to start" report would repeat a startup error with a stack trace, or call a
                // stop signal during startup a failure.
                return;
            }
            var line = provider._json
                ? provider.FormatJson(category, logLevel, eventId, state, exception, formatter)
                : provider.FormatText(category, logLevel, state, exception, formatter);
            provider.Enqueue(line);
        }
    }
}
