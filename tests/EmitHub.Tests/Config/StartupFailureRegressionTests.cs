using EmitHub.Cli;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EmitHub.Cli.Logging;

namespace EmitHub.Tests.Config;

/// <summary>Failing inputs from the first user test: a second instance on a taken port or store, and log forging.</summary>
[Collection(EmitHub.Tests.Persistence.PersistenceProcessCollection.Name)]
public sealed class StartupFailureRegressionTests : IDisposable
{
    private readonly string _dir = ConfigTestHelpers.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_port_held_by_another_process_is_one_sentence_and_exit_1()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var (code, _, stderr) = await EmitHubProcess.RunAsync(_dir, new Dictionary<string, string> { ["EMIT_HUB_PORT"] = port, ["EMIT_HUB_DB_PATH"] = "data" });

        Assert.Equal(1, code);
        Assert.Contains($"cannot listen on 127.0.0.1:{port}: the address is already in use", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public async Task A_second_instance_on_the_same_store_directory_is_refused()
    {
        var env = new Dictionary<string, string>
        {
            ["EMIT_HUB_PORT"] = EmitHubProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["EMIT_HUB_DB_PATH"] = "data",
        };
        using var first = EmitHubProcess.Start(_dir, env);
        await first.WaitForLineAsync("Application state initialized successfully");
        env["EMIT_HUB_PORT"] = EmitHubProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);

        var (code, _, stderr) = await EmitHubProcess.RunAsync(_dir, env);

        Assert.Equal(1, code);
        Assert.Contains("is in use by another process", stderr);
        first.Signal(15);
        Assert.Equal(0, await first.WaitForExitAsync());
    }

    [Fact]
    public void A_second_listener_on_the_same_port_fails_instead_of_sharing_it()
    {
        using var first = new EmitHub.Net.Transport.SocketListener(new IPEndPoint(IPAddress.Loopback, 0), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

        var error = Assert.Throws<SocketException>(() =>
            new EmitHub.Net.Transport.SocketListener(first.LocalEndPoint, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance));

        Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);
    }

    [Fact]
    public void Text_logs_escape_control_characters_from_client_text()
    {
        var sb = new StringBuilder();

        StringEscaping.AppendControlEscaped(sb, "inj\n2026-11-29T15:22:05.558Z ERROR emit_hub: forged \u001b[31mRED\0");

        Assert.Equal("inj\\n2026-11-29T15:22:05.558Z ERROR emit_hub: forged \\u001b[31mRED\\u0000", sb.ToString());
    }
}
