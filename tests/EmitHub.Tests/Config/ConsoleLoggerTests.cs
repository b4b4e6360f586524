using EmitHub.Cli;
using System.Text.Json;
using EmitHub.Cli.Configuration;
using EmitHub.Cli.Hosting;
using EmitHub.Cli.Logging;
using EmitHub.Core.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace EmitHub.Tests.Config;

public class ConsoleLoggerTests
{
    private static readonly DateTimeOffset s_now = new(2024, 6, 1, 10, 30, 0, 123, TimeSpan.Zero);

    private static EmitHubOptions With(Action<EmitHubOptions> change)
    {
        var o = new EmitHubOptions();
        change(o);
        return o;
    }

    [Fact]
    public void Text_lines_look_like_the_seed()
    {
        var output = new StringWriter();
        var provider = new EmitHubConsoleLoggerProvider(new LiveOptions(new EmitHubOptions()), output, new FakeTimeProvider(s_now));

        HostLog.Starting(provider.CreateLogger(HostLog.Category), "0.0.0.0", 8080);
        provider.Dispose();

        Assert.Equal("2024-06-01T10:30:00.123Z  INFO emit_hub: 📡 Starting EmitHub on 0.0.0.0:8080\n", output.ToString());
    }

    [Fact]
    public void Json_format_writes_one_object_per_line_with_the_fields()
    {
        var output = new StringWriter();
        var live = new LiveOptions(With(o => o.LogFormat = "json"));
        var provider = new EmitHubConsoleLoggerProvider(live, output, new FakeTimeProvider(s_now));
        var logger = provider.CreateLogger(HostLog.Category);

        HostLog.Starting(logger, "0.0.0.0", 8080);
        HostLog.ConfigWarning(logger, "unknown key \"x\" in emit_hub.toml line 3");
        provider.Dispose();

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        var root = first.RootElement;
        Assert.Equal("2024-06-01T10:30:00.123Z", root.GetProperty("timestamp").GetString());
        Assert.Equal("INFO", root.GetProperty("level").GetString());
        Assert.Equal("emit_hub", root.GetProperty("target").GetString());
        Assert.Equal("📡 Starting EmitHub on 0.0.0.0:8080", root.GetProperty("message").GetString());
        Assert.Contains("\"message\":\"📡 Starting", lines[0], StringComparison.Ordinal);
        Assert.Equal(2, root.GetProperty("event_id").GetInt32());
        Assert.Equal("0.0.0.0", root.GetProperty("fields").GetProperty("Host").GetString());
        Assert.Equal(8080, root.GetProperty("fields").GetProperty("Port").GetInt32());
        using var second = JsonDocument.Parse(lines[1]);
        Assert.Equal("WARN", second.RootElement.GetProperty("level").GetString());
    }

    // Review found two escapers (config and logger) with different rules: TOML got raw DEL and lone surrogates.
    [Fact]
    public void One_quoted_form_reads_back_unchanged_as_json_and_as_toml()
    {
        const string text = "a\"b\\c\n\r\t\u0001\u001b[31m\u007f\u0085\u2028 é 📡";
        var quoted = StringEscaping.Quote(text);

        Assert.Equal("\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u001b[31m\\u007f\\u0085\\u2028 é 📡\"", quoted);
        using var json = JsonDocument.Parse(quoted);
        Assert.Equal(text, json.RootElement.GetString());
        var toml = Tomlyn.Parsing.SyntaxParser.Parse("k = " + quoted, "x.toml", validate: true);
        Assert.False(toml.HasErrors);
        Assert.Equal(text, ((Tomlyn.Syntax.StringValueSyntax)toml.KeyValues.GetChild(0)!.Value!).Value);
    }

    [Fact]
    public void Json_keeps_emoji_as_UTF8_and_escapes_what_JSON_requires()
    {
        var sb = new System.Text.StringBuilder();

        StringEscaping.AppendQuoted(sb, "📡 \"q\" \\ \n\t\u0001 é \ud800x");

        Assert.Equal("\"📡 \\\"q\\\" \\\\ \\n\\t\\u0001 é \ufffdx\"", sb.ToString());
        using var json = JsonDocument.Parse(sb.ToString());
        Assert.Equal("📡 \"q\" \\ \n\t\u0001 é \ufffdx", json.RootElement.GetString());
    }

    [Theory]
    [InlineData("trace", LogLevel.Trace)]
    [InlineData("debug", LogLevel.Debug)]
    [InlineData("info", LogLevel.Information)]
    [InlineData("warn", LogLevel.Warning)]
    [InlineData("error", LogLevel.Error)]
    public void Each_log_level_name_maps_to_its_level(string name, LogLevel expected)
    {
        using var provider = new EmitHubConsoleLoggerProvider(new LiveOptions(With(o => o.LogLevel = name)), new StringWriter());
        var logger = provider.CreateLogger("x");

        Assert.Equal(expected, provider.MinimumLevel);
        Assert.True(logger.IsEnabled(expected));
        if (expected > LogLevel.Trace)
        {
            Assert.False(logger.IsEnabled(expected - 1));
        }
    }

    [Fact]
    public void A_live_update_changes_level_and_format_for_the_next_line()
    {
        var output = new StringWriter();
        var live = new LiveOptions(new EmitHubOptions());
        var provider = new EmitHubConsoleLoggerProvider(live, output, new FakeTimeProvider(s_now));
        var logger = provider.CreateLogger("emit_hub");

        logger.LogDebug("hidden");
        live.Update(With(o => { o.LogLevel = "debug"; o.LogFormat = "json"; }));
        logger.LogDebug("shown");
        provider.Dispose();

        var line = Assert.Single(output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var json = JsonDocument.Parse(line);
        Assert.Equal("shown", json.RootElement.GetProperty("message").GetString());
        Assert.Equal("DEBUG", json.RootElement.GetProperty("level").GetString());
    }

    [Fact]
    public void Framework_information_is_hidden_at_info_but_its_warnings_are_not()
    {
        using var provider = new EmitHubConsoleLoggerProvider(new LiveOptions(new EmitHubOptions()), new StringWriter());
        var framework = provider.CreateLogger("Microsoft.Hosting.Lifetime");

        Assert.False(framework.IsEnabled(LogLevel.Information));
        Assert.True(framework.IsEnabled(LogLevel.Warning));
    }

    [Fact]
    public void Exceptions_follow_their_line()
    {
        var output = new StringWriter();
        var provider = new EmitHubConsoleLoggerProvider(new LiveOptions(new EmitHubOptions()), output, new FakeTimeProvider(s_now));

        HostLog.StartupFailed(provider.CreateLogger(HostLog.Category), new InvalidOperationException("port in use"));
        provider.Dispose();

        Assert.StartsWith("2024-06-01T10:30:00.123Z ERROR emit_hub: EmitHub failed to start\nSystem.InvalidOperationException: port in use",
            output.ToString(), StringComparison.Ordinal);
    }
}
