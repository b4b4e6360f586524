using System.Globalization;
using EmitHub.Core.Configuration;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace EmitHub.Cli.Configuration;

/// <summary>
/// Computes the configuration from its layers, lowest first: built-in defaults &lt; TOML file &lt;
/// <c>EMIT_HUB_*</c> environment variables &lt; command-line options (SPEC §1).
/// </summary>
/// <remarks>
/// The TOML text is parsed to Tomlyn's syntax tree (<see cref="SyntaxParser"/>), which involves no reflection and
/// keeps each node's line, and mapped to <see cref="EmitHubOptions"/> by hand through <see cref="ConfigKeys"/>.
/// Tomlyn's reflection serializer is switched off under native AOT, and its source-generated one ignores unknown
/// keys without saying where they are, which the SPEC requires us to report.
/// </remarks>
public static class ConfigLoader
{
    /// <summary>Merges the layers of <paramref name="sources"/> over the defaults and validates every value.</summary>
    /// <returns>The options and every warning/error found; never throws on bad input.</returns>
    public static ConfigLoadResult Load(ConfigSources sources)
    {
        ArgumentNullException.ThrowIfNull(sources);
        var options = new EmitHubOptions();
        var diagnostics = new List<ConfigDiagnostic>();

        if (sources.FileText is not null)
        {
            new TomlMapper(options, diagnostics, sources.FilePath ?? "emit_hub.toml").Apply(sources.FileText);
        }
        ApplyEnvironment(options, diagnostics, sources.Environment);
        ApplyCommandLine(options, diagnostics, sources.CommandLine);
        return new ConfigLoadResult(options, diagnostics, sources.FilePath, sources.FileText);
    }

    private static void ApplyEnvironment(EmitHubOptions options, List<ConfigDiagnostic> diagnostics,
        IReadOnlyDictionary<string, string> environment)
    {
        // Keys are applied in table order so messages come out in a stable order whatever the dictionary's order.
        foreach (var key in ConfigKeys.All)
        {
            if (key.EnvName is null || !environment.TryGetValue(key.EnvName, out var text) || text.Length == 0)
            {
                // An empty variable counts as unset: compose files often declare `VAR=` to mean "no value".
                continue;
            }
            var error = key.ApplyText(options, text);
            if (error is not null)
            {
                var shown = key.Secret ? "(hidden)" : text;
                diagnostics.Add(new ConfigDiagnostic(ConfigSeverity.Error,
                    $"Environment variable {key.EnvName}=\"{shown}\" is not valid: {key.Path} must be {key.Allowed}.",
                    key.EnvName, null));
            }
        }

        foreach (var name in environment.Keys.Order(StringComparer.Ordinal))
        {
            if (!name.StartsWith(ConfigKeys.EnvPrefix, StringComparison.Ordinal)
                || name == ConfigKeys.ConfigEnvName || ConfigKeys.ByEnv(name) is not null)
            {
                continue;
            }
            var known = ConfigKeys.All.Select(k => k.EnvName).OfType<string>().Append(ConfigKeys.ConfigEnvName);
            var hint = Suggest(name, known);
            diagnostics.Add(new ConfigDiagnostic(ConfigSeverity.Warning,
                $"Unknown environment variable {name} is ignored{(hint is null ? "" : $" (did you mean {hint}?)")}.",
                name, null));
        }
    }

    private static void ApplyCommandLine(EmitHubOptions options, List<ConfigDiagnostic> diagnostics,
        IReadOnlyList<CommandLineOverride> overrides)
    {
        foreach (var o in overrides)
        {
            var key = ConfigKeys.ByPath(o.KeyPath)
                ?? throw new ArgumentException($"Command-line option {o.Option} maps to unknown key {o.KeyPath}.", nameof(overrides));
            var error = key.ApplyText(options, o.Value);
            if (error is not null)
            {
                diagnostics.Add(new ConfigDiagnostic(ConfigSeverity.Error,
                    $"Option {o.Option} \"{o.Value}\" is not valid: {key.Path} must be {key.Allowed}.",
                    o.Option, null));
            }
        }
    }

    /// <summary>The closest candidate within a small edit distance, for "did you mean" hints; null when none is close.</summary>
    internal static string? Suggest(string name, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var d = EditDistance(name, candidate);
            if (d < bestDistance)
            {
                bestDistance = d;
                best = candidate;
            }
        }
        return bestDistance <= Math.Max(2, name.Length / 4) ? best : null;
    }

    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    /// <summary>Walks a TOML syntax tree and applies each key/value node to the options.</summary>
    private sealed class TomlMapper(EmitHubOptions options, List<ConfigDiagnostic> diagnostics, string filePath)
    {
        public void Apply(string text)
        {
            DocumentSyntax document;
            try
            {
                document = SyntaxParser.Parse(text, filePath, validate: true);
            }
            catch (Exception ex) when (ex is Tomlyn.TomlException or InvalidOperationException or ArgumentException)
            {
                diagnostics.Add(new ConfigDiagnostic(ConfigSeverity.Error,
                    $"{filePath}: the file is not valid TOML: {ex.Message}", null, null));
                return;
            }

            if (document.HasErrors)
            {
                foreach (var message in document.Diagnostics)
                {
                    if (message.Kind != DiagnosticMessageKind.Error)
                    {
                        continue;
                    }
                    var line = message.Span.Start.Line + 1;
                    var column = message.Span.Start.Column + 1;
                    diagnostics.Add(new ConfigDiagnostic(ConfigSeverity.Error,
                        string.Create(CultureInfo.InvariantCulture,
                            $"{filePath} line {line}, column {column}: the file is not valid TOML: {message.Message.TrimEnd('.')}."),
                        null, line));
                }
                return;
            }

            foreach (var kv in document.KeyValues)
            {
                ApplyKeyValue([], kv);
            }
            foreach (var table in document.Tables)
            {
                ApplyTable(table);
            }
        }

        private void ApplyTable(TableSyntaxBase table)
        {
            var parts = table.Name is null ? [] : KeyParts(table.Name);
            var path = string.Join('.', parts);
            var line = LineOf(table);
            var isSection = parts.Count == 1 && ConfigKeys.Sections.Contains(parts[0]);

            if (table is TableArraySyntax)
            {
                if (isSection || ConfigKeys.ByPath(path) is not null)
                {
                    Error(line, path, $"[[{path}]] is an array of tables; {path} must be a single table written [{path}].");
                }
                else
                {
                    Warn(line, path, $"unknown table [[{path}]] is ignored.");
                }
                return;
            }

            if (!isSection)
            {
                if (ConfigKeys.ByPath(path) is { } key)
                {
                    Error(line, path, $"[{path}] is a table, but {path} must be {key.Allowed}.");
                }
                else
                {
                    var hint = Suggest(path, ConfigKeys.Sections);
                    Warn(line, path, $"unknown table [{path}] is ignored{(hint is null ? "" : $" (did you mean [{hint}]?)")}.");
                }
                return;
            }

            foreach (var kv in table.Items)
            {
                ApplyKeyValue(parts, kv);
            }
        }

        private void ApplyKeyValue(IReadOnlyList<string> prefix, KeyValueSyntax kv)
        {
            if (kv.Key is null || kv.Value is null)
            {
                return;
            }
            var parts = new List<string>(prefix);
            parts.AddRange(KeyParts(kv.Key));
            ApplyValue(parts, kv.Value, LineOf(kv));
        }

        private void ApplyValue(List<string> parts, ValueSyntax value, int line)
        {
            var path = string.Join('.', parts);
            if (ConfigKeys.ByPath(path) is { } key)
            {
                var error = key.ApplyToml(options, value);
                if (error is { } kind)
                {
                    var shown = key.Secret ? "(hidden)" : ValueText(value);
                    var what = kind == ConfigValueError.WrongType
                        ? $"has the wrong type ({ConfigKey.TypeName(value)})"
                        : "is not valid";
                    Error(line, path, $"{path} = {shown} {what}: {path} must be {key.Allowed}.");
                }
                return;
            }

            // A section may also be written inline (`cors = { max_age = 60 }`) or through dotted keys
            // (`cors.max_age = 60`); both reach here with the section as the first part.
            if (parts.Count == 1 && ConfigKeys.Sections.Contains(path))
            {
                if (value is InlineTableSyntax inline)
                {
                    foreach (var item in inline.Items)
                    {
                        if (item.KeyValue is { Key: not null, Value: not null } inner)
                        {
                            var innerParts = new List<string>(parts);
                            innerParts.AddRange(KeyParts(inner.Key));
                            ApplyValue(innerParts, inner.Value, LineOf(inner));
                        }
                    }
                }
                else
                {
                    Error(line, path, $"{path} = {ValueText(value)} has the wrong type ({ConfigKey.TypeName(value)}): {path} must be a table ([{path}]).");
                }
                return;
            }

            var candidates = ConfigKeys.All.Select(k => k.Path);
            var hint = Suggest(path, candidates);
            Warn(line, path, $"unknown key {path} is ignored{(hint is null ? "" : $" (did you mean {hint}?)")}.");
        }

        private void Error(int line, string key, string sentence) =>
            diagnostics.Add(new ConfigDiagnostic(ConfigSeverity.Error,
                string.Create(CultureInfo.InvariantCulture, $"{filePath} line {line}: {sentence}"), key, line));

        private void Warn(int line, string key, string sentence) =>
            diagnostics.Add(new ConfigDiagnostic(ConfigSeverity.Warning,
                string.Create(CultureInfo.InvariantCulture, $"{filePath} line {line}: {sentence}"), key, line));

        private static int LineOf(SyntaxNode node) => node.Span.Start.Line + 1;

        private static string ValueText(ValueSyntax value)
        {
            var text = value.ToString()?.Trim() ?? "";
            // A multi-line array would make the sentence unreadable; the line number points at it anyway.
            var newline = text.IndexOfAny(['\r', '\n']);
            return newline < 0 ? text : text[..newline] + " …";
        }

        private static List<string> KeyParts(KeySyntax key)
        {
            var parts = new List<string>();
            if (key.Key is { } first)
            {
                parts.Add(KeyText(first));
            }
            foreach (var dotted in key.DotKeys)
            {
                if (dotted.Key is { } part)
                {
                    parts.Add(KeyText(part));
                }
            }
            return parts;
        }

        private static string KeyText(BareKeyOrStringValueSyntax key) => key switch
        {
            BareKeySyntax bare => bare.Key?.Text ?? "",
            StringValueSyntax quoted => quoted.Value ?? "",
            _ => key.ToString()?.Trim() ?? "",
        };
    }
}
