using System.Text;
using EmitHub.Core.Configuration;

namespace EmitHub.Cli.Configuration;

/// <summary>The text printed by <c>emit-hub --show-env-vars</c>: every variable, its meaning, default and current value;
/// a current value the server would refuse is flagged <c>INVALID</c> with what is allowed.</summary>
public static class EnvVarReport
{
    /// <summary>Builds the report for the given environment (only <c>EMIT_HUB_*</c> variables matter).</summary>
    public static string Generate(IReadOnlyDictionary<string, string> environment)
    {
        var defaults = new EmitHubOptions();
        var sb = new StringBuilder();
        sb.Append("EmitHub environment variables\n");
        sb.Append("Precedence, lowest first: built-in defaults < TOML file < EMIT_HUB_* variables < command-line options.\n");
        sb.Append("An empty variable counts as unset.\n");

        Append(sb, ConfigKeys.ConfigEnvName, null,
            "TOML configuration file to read when --config is not given.",
            "./emit_hub.toml if present", Current(environment, ConfigKeys.ConfigEnvName, secret: false));

        foreach (var key in ConfigKeys.All)
        {
            if (key.EnvName is null)
            {
                continue;
            }
            var meaning = key.Description;
            if (key is StringListKey)
            {
                meaning += " Comma-separated.";
            }
            Append(sb, key.EnvName, key.Path, meaning, key.FormatDisplay(defaults) ?? "(unset)",
                Current(environment, key.EnvName, key.Secret) + Invalid(environment, key));
        }
        return sb.ToString();
    }

    private static string Current(IReadOnlyDictionary<string, string> environment, string name, bool secret) =>
        environment.TryGetValue(name, out var value) && value.Length > 0
            ? (secret ? "(set, hidden)" : value)
            : "(not set)";

    /// <summary>
    /// "  &lt;- INVALID: …" when the variable is set to a value the server would refuse at startup (the same check
    /// as the loader's, so the report and a start agree), else empty.
    /// </summary>
    private static string Invalid(IReadOnlyDictionary<string, string> environment, ConfigKey key)
    {
        if (!environment.TryGetValue(key.EnvName!, out var value) || value.Length == 0 ||
            key.ApplyText(new EmitHubOptions(), value) is null)
        {
            return "";
        }
        return $"  <- INVALID: {key.Path} must be {key.Allowed}; emit-hub will not start with this value";
    }

    private static void Append(StringBuilder sb, string name, string? tomlKey, string meaning, string defaultValue, string current)
    {
        sb.Append('\n').Append(name);
        if (tomlKey is not null)
        {
            sb.Append("  (TOML: ").Append(tomlKey).Append(')');
        }
        sb.Append('\n');
        sb.Append("    ").Append(meaning).Append('\n');
        sb.Append("    default: ").Append(defaultValue).Append('\n');
        sb.Append("    current: ").Append(current).Append('\n');
    }
}
