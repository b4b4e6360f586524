using System.Net.WebSockets;
using EmitHub.Tests.Config;
using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace EmitHub.Tests.WebSockets;

/// <summary>
/// WebSocket <c>Origin</c> checks for kiosks (issue 12): <c>[cors] allowed_origins = ["null"]</c> admits a page opened
/// from <c>file://</c>; a refused origin is logged at <c>info</c> once per origin per minute, naming the setting.
/// </summary>
public sealed class OriginRefusalTests
{
    private sealed class ListLoggerProvider : ILoggerProvider
    {
        public ListLogger Logger { get; } = new();

        public ILogger CreateLogger(string categoryName) => Logger;

        public void Dispose()
        {
        }
    }

    private static async Task<(ClientWebSocket? Socket, string? Refusal)> ConnectAsync(TestHubServer hub, string id, string origin)
    {
        var ws = new ClientWebSocket();
        ws.Options.SetRequestHeader("Origin", origin);
        ws.Options.CollectHttpResponseDetails = true;
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{hub.EndPoint.Port}/api/v1/channels/{id}/ws"), cts.Token);
            return (ws, null);
        }
        catch (WebSocketException)
        {
            var status = ws.HttpStatusCode;
            ws.Dispose();
            return (null, ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    private static string[] OriginLines(ListLoggerProvider logs) =>
        logs.Logger.Lines.Where(l => l.Level == LogLevel.Information && l.Message.StartsWith("WebSocket refused (403): Origin", StringComparison.Ordinal))
            .Select(l => l.Message).ToArray();

    [Fact]
    public async Task A_refused_origin_is_logged_at_info_once_per_origin_per_minute_naming_the_setting()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-04T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var logs = new ListLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Information));
        await using var hub = await TestHubServer.StartAsync(time: time, loggerFactory: factory);
        var id = await hub.CreateActiveChannelAsync();

        Assert.Equal("403", (await ConnectAsync(hub, id, "null")).Refusal);
        var line = Assert.Single(OriginLines(logs));
        Assert.Contains("Origin 'null' is not in [cors] allowed_origins (env EMIT_HUB_CORS_ORIGINS)", line);
        Assert.Contains("\"null\" for pages opened from file://", line);

        // A display retrying every few seconds: one line a minute, not one per attempt.
        for (var i = 0; i < 3; i++)
        {
            time.Advance(TimeSpan.FromSeconds(10));
            Assert.Equal("403", (await ConnectAsync(hub, id, "null")).Refusal);
        }
        Assert.Single(OriginLines(logs));

        Assert.Equal("403", (await ConnectAsync(hub, id, "https://other.example")).Refusal);
        Assert.Equal(2, OriginLines(logs).Length);
        Assert.Contains("Origin 'https://other.example'", OriginLines(logs)[1]);

        time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal("403", (await ConnectAsync(hub, id, "null")).Refusal);
        Assert.Equal(3, OriginLines(logs).Length);
    }

    [Fact]
    public async Task The_null_origin_of_a_file_page_connects_when_allowed_origins_lists_null()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.Cors.AllowedOrigins = ["localhost", "null"]);
        var id = await hub.CreateActiveChannelAsync();
        var (socket, refusal) = await ConnectAsync(hub, id, "null");
        Assert.Null(refusal);
        using (socket)
        {
            Assert.Equal("connected", (await socket!.ReceiveEnvelopeAsync())!.Value.GetProperty("status").GetString());
            await hub.BroadcastAsync(id, "A004");
            Assert.Equal("A004", (await socket!.ReceiveEnvelopeAsync())!.Value.GetProperty("message").GetString());
        }
        // Other origins stay refused.
        Assert.Equal("403", (await ConnectAsync(hub, id, "https://evil.example")).Refusal);
    }

    [Theory]
    [InlineData("[cors]\nallowed_origins = [\"null\", \"localhost\"]\n")]
    [InlineData("[cors]\nallowed_origins = [\"NULL\"]\n")]
    public void Allowed_origins_accepts_null_in_the_TOML_file(string toml)
    {
        var result = ConfigTestHelpers.LoadToml(toml);
        Assert.True(result.IsValid, string.Join("; ", result.Errors.Select(e => e.Message)));
        Assert.Contains("null", result.Options.Cors.AllowedOrigins);
    }

    [Fact]
    public void Allowed_origins_accepts_null_from_the_environment()
    {
        var result = ConfigTestHelpers.LoadEnv(("EMIT_HUB_CORS_ORIGINS", "null,localhost"));
        Assert.True(result.IsValid, string.Join("; ", result.Errors.Select(e => e.Message)));
        Assert.Equal(["null", "localhost"], result.Options.Cors.AllowedOrigins);
    }
}
