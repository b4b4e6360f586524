using EmitHub.Cli.Configuration;

namespace EmitHub.Tests.Config;

public sealed class ConfigFileTests : IDisposable
{
    private readonly string _dir = ConfigTestHelpers.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_config_option_wins_over_EMIT_HUB_CONFIG_which_wins_over_the_default_file()
    {
        var env = new Dictionary<string, string> { ["EMIT_HUB_CONFIG"] = "from-env.toml" };

        Assert.Equal(new ConfigFileChoice("from-cli.toml", true, "--config"), ConfigFile.Locate("from-cli.toml", env));
        Assert.Equal(new ConfigFileChoice("from-env.toml", true, "EMIT_HUB_CONFIG"), ConfigFile.Locate(null, env));
        Assert.Equal(new ConfigFileChoice("emit_hub.toml", false, "default"), ConfigFile.Locate(null, new Dictionary<string, string>()));
    }

    [Fact]
    public void A_missing_default_file_is_not_an_error_but_a_missing_named_file_is()
    {
        var absent = Path.Combine(_dir, "emit_hub.toml");
        var none = new Dictionary<string, string>();

        var optional = ConfigFile.Load(new ConfigFileChoice(absent, false, "default"), none, []);
        var required = ConfigFile.Load(new ConfigFileChoice(absent, true, "EMIT_HUB_CONFIG"), none, []);

        Assert.True(optional.IsValid);
        Assert.Null(optional.FilePath);
        var error = Assert.Single(required.Errors);
        Assert.Equal($"Configuration file {absent} (named by EMIT_HUB_CONFIG) does not exist.", error.Message);
    }

    [Fact]
    public void A_file_with_a_byte_order_mark_and_CRLF_line_ends_loads()
    {
        var path = Path.Combine(_dir, "bom.toml");
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. "port = 9001\r\n[cors]\r\nmax_age = 5\r\n"u8]);

        var result = ConfigFile.Load(new ConfigFileChoice(path, true, "--config"), new Dictionary<string, string>(), []);

        Assert.Empty(result.Diagnostics);
        Assert.Equal(9001, result.Options.Port);
        Assert.Equal(5, result.Options.Cors.MaxAge);
    }

    [Fact]
    public void A_file_that_is_not_UTF8_is_an_error()
    {
        var path = Path.Combine(_dir, "latin1.toml");
        File.WriteAllBytes(path, [.. "host = \""u8, 0xE9, .. "\"\n"u8]);

        var result = ConfigFile.Load(new ConfigFileChoice(path, true, "--config"), new Dictionary<string, string>(), []);

        var error = Assert.Single(result.Errors);
        Assert.Equal($"Configuration file {path} is not valid UTF-8.", error.Message);
    }
}
