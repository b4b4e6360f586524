using EmitHub.Cli.Configuration;
using EmitHub.Core.Configuration;
using Tomlyn.Parsing;

namespace EmitHub.Tests.Config;

public class ConfigTemplateTests
{
    [Fact]
    public void The_generated_config_loads_back_to_exactly_the_defaults()
    {
        var template = ConfigTemplate.Generate();

        var result = ConfigTestHelpers.LoadToml(template);

        Assert.Empty(result.Diagnostics);
        var defaults = new EmitHubOptions();
        foreach (var key in ConfigKeys.All)
        {
            Assert.Equal(key.FormatToml(defaults), key.FormatToml(result.Options));
        }
    }

    [Fact]
    public void The_generated_config_mentions_every_key_and_every_environment_variable()
    {
        var template = ConfigTemplate.Generate();
        var lines = template.Split('\n');

        foreach (var key in ConfigKeys.All)
        {
            // Set keys appear as `name = value`, optional ones commented out as `# name = example`.
            var prefix = key.Optional ? $"# {key.Name} = " : $"{key.Name} = ";
            Assert.Contains(lines, l => l.StartsWith(prefix, StringComparison.Ordinal));
            if (key.EnvName is not null)
            {
                Assert.Contains(key.EnvName, template, StringComparison.Ordinal);
            }
        }
        Assert.Contains("[cors]", lines);
        Assert.Contains("[websocket]", lines);
        Assert.Contains("[persistence]", lines);
    }

    [Fact]
    public void Uncommenting_an_optional_key_of_the_generated_config_gives_a_valid_file()
    {
        var template = ConfigTemplate.Generate()
            .Replace("# api_key = ", "api_key = ", StringComparison.Ordinal)
            .Replace("# max_continuation_size = ", "max_continuation_size = ", StringComparison.Ordinal)
            .Replace("# echo_path = ", "echo_path = ", StringComparison.Ordinal);

        var result = ConfigTestHelpers.LoadToml(template);

        Assert.Empty(result.Diagnostics);
        Assert.Equal("replace-with-a-long-random-secret", result.Options.ApiKey);
        Assert.Equal(1_048_576, result.Options.WebSocket.MaxContinuationSize);
        Assert.Equal("/echo", result.Options.WebSocket.EchoPath);
    }

    [Fact]
    public void The_generated_config_is_valid_TOML_without_warnings()
    {
        var document = SyntaxParser.Parse(ConfigTemplate.Generate(), "generated.toml", validate: true);

        Assert.False(document.HasErrors, string.Join("\n", document.Diagnostics));
    }

    [Fact]
    public void The_repository_emit_hub_toml_equals_the_generated_config()
    {
        var path = Path.Combine(ConfigTestHelpers.RepoRoot(), "emit_hub.toml");

        var text = File.ReadAllText(path);

        // If this fails after a key or text changed: dotnet run --project src/EmitHub.Cli -- --generate-config > emit_hub.toml
        Assert.Equal(ConfigTemplate.Generate(), text);
    }

    [Fact]
    public void Show_env_vars_lists_every_variable_with_meaning_default_and_current_value()
    {
        var env = new Dictionary<string, string>
        {
            ["EMIT_HUB_PORT"] = "3000",
            ["EMIT_HUB_API_KEY"] = "top-secret",
        };

        var report = EnvVarReport.Generate(env);

        foreach (var key in ConfigKeys.All.Where(k => k.EnvName is not null))
        {
            Assert.Contains($"\n{key.EnvName}  (TOML: {key.Path})\n    {key.Description}", report, StringComparison.Ordinal);
        }
        Assert.Contains("\nEMIT_HUB_CONFIG\n", report, StringComparison.Ordinal);
        Assert.Contains("EMIT_HUB_PORT  (TOML: port)\n    TCP port of the HTTP and WebSocket listener.\n    default: 8080\n    current: 3000\n",
            report, StringComparison.Ordinal);
        Assert.Contains("EMIT_HUB_HOST  (TOML: host)", report, StringComparison.Ordinal);
        Assert.Contains("    default: 127.0.0.1\n    current: (not set)\n", report, StringComparison.Ordinal);
        Assert.Contains("current: (set, hidden)", report, StringComparison.Ordinal);
        Assert.DoesNotContain("top-secret", report, StringComparison.Ordinal);
    }

    [Fact]
    public void Show_env_vars_flags_an_invalid_current_value_saying_what_is_allowed()
    {
        var env = new Dictionary<string, string>
        {
            ["EMIT_HUB_PORT"] = "80800",
            ["EMIT_HUB_LOG_LEVEL"] = "verbose",
            ["EMIT_HUB_PERSIST_MESSAGES"] = "true",
            ["EMIT_HUB_API_KEY"] = "has space",
        };

        var report = EnvVarReport.Generate(env);

        Assert.Contains("    current: 80800  <- INVALID: port must be an integer from 1 to 65535; emit-hub will not start with this value\n",
            report, StringComparison.Ordinal);
        Assert.Contains("    current: verbose  <- INVALID: log_level must be ", report, StringComparison.Ordinal);
        Assert.Contains("    current: true\n", report, StringComparison.Ordinal);
        // A secret stays hidden even when it is invalid.
        Assert.Contains("    current: (set, hidden)  <- INVALID: api_key must be ", report, StringComparison.Ordinal);
        Assert.DoesNotContain("has space", report, StringComparison.Ordinal);
        Assert.Equal(3, report.Split("<- INVALID").Length - 1);

        // The report and a start agree: every flagged variable is an error of the loader.
        var loaded = ConfigTestHelpers.LoadEnv(env.Select(e => (e.Key, e.Value)).ToArray());
        Assert.Equal(3, loaded.Errors.Count());
    }

    [Theory]
    [InlineData("127.0.0.1", 8080, false, "http://127.0.0.1:8080/docs")]
    [InlineData("0.0.0.0", 9000, false, "http://localhost:9000/docs")]
    [InlineData("::", 8080, false, "http://localhost:8080/docs")]
    [InlineData("::1", 8080, false, "http://[::1]:8080/docs")]
    [InlineData("hub.clinica.example", 443, true, "https://hub.clinica.example:443/docs")]
    public void The_banner_shows_the_docs_url_of_this_server(string host, int port, bool tls, string expected)
    {
        var options = new EmitHub.Core.Configuration.EmitHubOptions { Host = host, Port = port };
        if (tls)
        {
            options.Tls.CertPath = "cert.pem";
            options.Tls.KeyPath = "key.pem";
        }
        Assert.Equal(expected, EmitHub.Cli.BuildInfo.DocsUrl(options));
    }
}
