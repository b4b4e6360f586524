using EmitHub.Cli;
using EmitHub.Cli.Configuration;

namespace EmitHub.Tests.Config;

public class CliParsingTests
{
    [Fact]
    public void Host_port_and_log_level_options_become_overrides_of_their_keys()
    {
        var parse = EmitHubCli.CreateRootCommand().Parse(["--host", "0.0.0.0", "-p", "9000", "--log-level", "debug"]);

        Assert.Empty(parse.Errors);
        Assert.Equal(
        [
            new CommandLineOverride("--host", "host", "0.0.0.0"),
            new CommandLineOverride("--port", "port", "9000"),
            new CommandLineOverride("--log-level", "log_level", "debug"),
        ], EmitHubCli.GetOverrides(parse));
    }

    [Fact]
    public void Options_not_given_override_nothing()
    {
        var parse = EmitHubCli.CreateRootCommand().Parse(["--config", "x.toml"]);

        Assert.Empty(parse.Errors);
        Assert.Empty(EmitHubCli.GetOverrides(parse));
    }

    [Fact]
    public void The_command_can_be_built_twice_in_one_process()
    {
        var first = EmitHubCli.CreateRootCommand().Parse(["--port", "1"]);
        var second = EmitHubCli.CreateRootCommand().Parse(["--port", "2"]);

        Assert.Equal("1", EmitHubCli.GetOverrides(first).Single().Value);
        Assert.Equal("2", EmitHubCli.GetOverrides(second).Single().Value);
    }

    [Fact]
    public async Task Version_prints_emit_hub_and_the_version()
    {
        var output = new StringWriter();
        var parse = EmitHubCli.CreateRootCommand().Parse(["--version"]);

        var code = await parse.InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = output });

        Assert.Equal(0, code);
        Assert.Equal($"emit-hub {BuildInfo.Version}{Environment.NewLine}", output.ToString());
        Assert.Equal("0.1.0", BuildInfo.Version);
    }
}
