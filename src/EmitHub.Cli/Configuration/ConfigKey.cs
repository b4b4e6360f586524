using System.Globalization;
using System.Text;
using EmitHub.Core.Configuration;
using Tomlyn.Syntax;

namespace EmitHub.Cli.Configuration;

/// <summary>
/// One setting of <c>emit_hub.toml</c>: its TOML path, its environment variable, its documentation, how a value
/// is parsed (from a TOML value node, or from the text of an environment variable / command-line option), what is
/// allowed, and how it is written back. The whole configuration surface is the list in <see cref="ConfigKeys"/>, so
/// the loader, <c>--generate-config</c>, <c>--show-env-vars</c> and hot reload cannot disagree.
/// </summary>
public abstract class ConfigKey
{
    private protected ConfigKey(string section, string name, string? envName, string description, bool restartRequired)
    {
        Section = section;
        Name = name;
        Path = section.Length == 0 ? name : section + "." + name;
        EnvName = envName;
        Description = description;
        RestartRequired = restartRequired;
    }

    /// <summary>TOML table holding the key: empty for top level, else <c>cors</c>, <c>websocket</c> or <c>persistence</c>.</summary>
    public string Section { get; }

    /// <summary>Key name inside its table, e.g. <c>ping_interval</c>.</summary>
    public string Name { get; }

    /// <summary>Dotted path, e.g. <c>websocket.ping_interval</c>; top-level keys have no dot.</summary>
    public string Path { get; }

    /// <summary>The <c>EMIT_HUB_*</c> variable that overrides this key, or null when there is none.</summary>
    public string? EnvName { get; }

    /// <summary>One or two sentences for the generated TOML and <c>--show-env-vars</c>.</summary>
    public string Description { get; }

    /// <summary>True for settings read only at startup (host, port, db_path): hot reload warns instead of applying.</summary>
    public bool RestartRequired { get; }

    /// <summary>True when the key may be absent (unset); the generated TOML then shows it commented out.</summary>
    public virtual bool Optional => false;

    /// <summary>True for secrets whose value is never printed (logs, <c>--show-env-vars</c>).</summary>
    public virtual bool Secret => false;

    /// <summary>What a valid value is, as the end of a sentence: "an integer from 1 to 65535".</summary>
    public abstract string Allowed { get; }

    /// <summary>Parses a TOML value node into <paramref name="options"/>.</summary>
    /// <returns>Null on success; else <see cref="ConfigValueError"/> telling whether the type or the value was wrong.</returns>
    public abstract ConfigValueError? ApplyToml(EmitHubOptions options, ValueSyntax value);

    /// <summary>Parses the text of an environment variable or command-line option into <paramref name="options"/>.</summary>
    /// <returns>Null on success, else the error kind.</returns>
    public abstract ConfigValueError? ApplyText(EmitHubOptions options, string text);

    /// <summary>The value as a TOML literal (<c>8080</c>, <c>"info"</c>, <c>["a", "b"]</c>), or null when unset.</summary>
    public abstract string? FormatToml(EmitHubOptions options);

    /// <summary>The value for humans (logs, <c>--show-env-vars</c>), or null when unset. Secrets are masked.</summary>
    public virtual string? FormatDisplay(EmitHubOptions options)
    {
        var text = FormatToml(options);
        return text is not null && Secret ? "(hidden)" : text;
    }

    /// <summary>True when both options hold the same value for this key.</summary>
    public bool ValueEquals(EmitHubOptions a, EmitHubOptions b) => FormatToml(a) == FormatToml(b);

    /// <summary>Copies this key's value from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public abstract void Copy(EmitHubOptions from, EmitHubOptions to);

    internal static string TypeName(ValueSyntax value) => value switch
    {
        IntegerValueSyntax => "integer",
        FloatValueSyntax => "float",
        StringValueSyntax => "string",
        BooleanValueSyntax => "boolean",
        ArraySyntax => "array",
        InlineTableSyntax => "table",
        DateTimeValueSyntax => "date-time",
        _ => "value",
    };
}

/// <summary>Why a value was refused: it had the wrong TOML type, or the right type with a value out of range.</summary>
public enum ConfigValueError
{
    /// <summary>The TOML node has another type than the key needs (e.g. a string for <c>port</c>).</summary>
    WrongType,

    /// <summary>The value has the right type but is outside what is allowed (e.g. <c>port = 0</c>).</summary>
    InvalidValue,
}

/// <summary>An integer key with an inclusive range; stored in an <see cref="int"/> or <see cref="long"/> property.</summary>
public sealed class IntegerKey : ConfigKey
{
    private readonly Func<EmitHubOptions, long?> _get;
    private readonly Action<EmitHubOptions, long?> _set;
    private readonly bool _optional;

    /// <summary>Creates the key; <paramref name="min"/>..<paramref name="max"/> is inclusive.</summary>
    public IntegerKey(string section, string name, string? envName, string description, long min, long max, string? unit,
        Func<EmitHubOptions, long?> get, Action<EmitHubOptions, long?> set, bool optional = false, bool restartRequired = false)
        : base(section, name, envName, description, restartRequired)
    {
        Min = min;
        Max = max;
        Unit = unit;
        _get = get;
        _set = set;
        _optional = optional;
    }

    /// <summary>Smallest allowed value.</summary>
    public long Min { get; }

    /// <summary>Largest allowed value.</summary>
    public long Max { get; }

    /// <summary>Unit for messages ("seconds", "bytes"), or null.</summary>
    public string? Unit { get; }

    /// <inheritdoc />
    public override bool Optional => _optional;

    /// <inheritdoc />
    public override string Allowed =>
        string.Create(CultureInfo.InvariantCulture, $"an integer from {Min} to {Max}{(Unit is null ? "" : " " + Unit)}");

    /// <inheritdoc />
    public override ConfigValueError? ApplyToml(EmitHubOptions options, ValueSyntax value)
    {
        if (value is not IntegerValueSyntax integer)
        {
            return ConfigValueError.WrongType;
        }
        return Apply(options, integer.Value);
    }

    /// <inheritdoc />
    public override ConfigValueError? ApplyText(EmitHubOptions options, string text)
    {
        var trimmed = text.Trim().Replace("_", "", StringComparison.Ordinal);
        if (!long.TryParse(trimmed, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            return ConfigValueError.WrongType;
        }
        return Apply(options, value);
    }

    private ConfigValueError? Apply(EmitHubOptions options, long value)
    {
        if (value < Min || value > Max)
        {
            return ConfigValueError.InvalidValue;
        }
        _set(options, value);
        return null;
    }

    /// <inheritdoc />
    public override string? FormatToml(EmitHubOptions options) =>
        _get(options) is { } v ? v.ToString(CultureInfo.InvariantCulture) : null;

    /// <inheritdoc />
    public override void Copy(EmitHubOptions from, EmitHubOptions to) => _set(to, _get(from));
}

/// <summary>A boolean key. Environment variables also accept 1/0, yes/no, on/off.</summary>
public sealed class BooleanKey : ConfigKey
{
    private readonly Func<EmitHubOptions, bool> _get;
    private readonly Action<EmitHubOptions, bool> _set;

    /// <summary>Creates the key.</summary>
    public BooleanKey(string section, string name, string? envName, string description,
        Func<EmitHubOptions, bool> get, Action<EmitHubOptions, bool> set)
        : base(section, name, envName, description, restartRequired: false)
    {
        _get = get;
        _set = set;
    }

    /// <inheritdoc />
    public override string Allowed => "true or false";

    /// <inheritdoc />
    public override ConfigValueError? ApplyToml(EmitHubOptions options, ValueSyntax value)
    {
        if (value is not BooleanValueSyntax boolean)
        {
            return ConfigValueError.WrongType;
        }
        _set(options, boolean.Value);
        return null;
    }

    /// <inheritdoc />
    public override ConfigValueError? ApplyText(EmitHubOptions options, string text)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "true" or "1" or "yes" or "on":
                _set(options, true);
                return null;
            case "false" or "0" or "no" or "off":
                _set(options, false);
                return null;
            default:
                return ConfigValueError.InvalidValue;
        }
    }

    /// <inheritdoc />
    public override string? FormatToml(EmitHubOptions options) => _get(options) ? "true" : "false";

    /// <inheritdoc />
    public override void Copy(EmitHubOptions from, EmitHubOptions to) => _set(to, _get(from));
}

/// <summary>
/// A string key. A validator gives the allowed set (an enumeration is a string key whose validator accepts a fixed
/// list); values are stored normalized (enumerations in lower case).
/// </summary>
public sealed class StringKey : ConfigKey
{
    private readonly Func<EmitHubOptions, string?> _get;
    private readonly Action<EmitHubOptions, string?> _set;
    private readonly Func<string, string?> _normalize;
    private readonly bool _optional;
    private readonly bool _secret;

    /// <summary>
    /// Creates the key. <c>allowed</c> is the sentence end describing valid values; <c>normalize</c> returns the value
    /// to store, or null when the text is not allowed.
    /// </summary>
    public StringKey(string section, string name, string? envName, string description, string allowed,
        Func<string, string?> normalize, Func<EmitHubOptions, string?> get, Action<EmitHubOptions, string?> set,
        bool optional = false, bool secret = false, bool restartRequired = false)
        : base(section, name, envName, description, restartRequired)
    {
        Allowed = allowed;
        _normalize = normalize;
        _get = get;
        _set = set;
        _optional = optional;
        _secret = secret;
    }

    /// <summary>Creates an enumeration key: one of <paramref name="choices"/>, case-insensitive, stored in lower case.</summary>
    public static StringKey Enumeration(string section, string name, string? envName, string description, string[] choices,
        Func<EmitHubOptions, string?> get, Action<EmitHubOptions, string?> set) =>
        new(section, name, envName, description,
            "one of " + string.Join(", ", choices.Select(c => "\"" + c + "\"")),
            text =>
            {
                var lower = text.Trim().ToLowerInvariant();
                return Array.IndexOf(choices, lower) >= 0 ? lower : null;
            },
            get, set);

    /// <inheritdoc />
    public override bool Optional => _optional;

    /// <inheritdoc />
    public override bool Secret => _secret;

    /// <inheritdoc />
    public override string Allowed { get; }

    /// <inheritdoc />
    public override ConfigValueError? ApplyToml(EmitHubOptions options, ValueSyntax value)
    {
        if (value is not StringValueSyntax str || str.Value is null)
        {
            return ConfigValueError.WrongType;
        }
        return ApplyText(options, str.Value);
    }

    /// <inheritdoc />
    public override ConfigValueError? ApplyText(EmitHubOptions options, string text)
    {
        // An optional key given as "" means "unset": that is how an environment variable clears a TOML value.
        if (_optional && text.Length == 0)
        {
            _set(options, null);
            return null;
        }
        var normalized = _normalize(text);
        if (normalized is null)
        {
            return ConfigValueError.InvalidValue;
        }
        _set(options, normalized);
        return null;
    }

    /// <inheritdoc />
    public override string? FormatToml(EmitHubOptions options) => _get(options) is { } v ? StringEscaping.Quote(v) : null;

    /// <inheritdoc />
    public override string? FormatDisplay(EmitHubOptions options) =>
        _get(options) is { } v ? (_secret ? "(hidden)" : v) : null;

    /// <inheritdoc />
    public override void Copy(EmitHubOptions from, EmitHubOptions to) => _set(to, _get(from));
}

/// <summary>An array of strings; from an environment variable it is a comma-separated list.</summary>
public sealed class StringListKey : ConfigKey
{
    private readonly Func<EmitHubOptions, List<string>> _get;
    private readonly Action<EmitHubOptions, List<string>> _set;
    private readonly Func<string, string?> _normalizeItem;

    /// <summary>
    /// Creates the key. <c>allowed</c> is the sentence end describing valid lists; <c>normalizeItem</c> returns the
    /// item to store, or null when the item is not allowed.
    /// </summary>
    public StringListKey(string section, string name, string? envName, string description, string allowed,
        Func<string, string?> normalizeItem, Func<EmitHubOptions, List<string>> get, Action<EmitHubOptions, List<string>> set)
        : base(section, name, envName, description, restartRequired: false)
    {
        Allowed = allowed;
        _normalizeItem = normalizeItem;
        _get = get;
        _set = set;
    }

    /// <inheritdoc />
    public override string Allowed { get; }

    /// <inheritdoc />
    public override ConfigValueError? ApplyToml(EmitHubOptions options, ValueSyntax value)
    {
        if (value is not ArraySyntax array)
        {
            return ConfigValueError.WrongType;
        }
        var items = new List<string>();
        foreach (var item in array.Items)
        {
            if (item.Value is not StringValueSyntax { Value: { } text })
            {
                // The array itself has the right type; "the wrong type (array)" would mislead.
                return ConfigValueError.InvalidValue;
            }
            items.Add(text);
        }
        return Apply(options, items);
    }

    /// <inheritdoc />
    public override ConfigValueError? ApplyText(EmitHubOptions options, string text)
    {
        var items = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList();
        return Apply(options, items);
    }

    private ConfigValueError? Apply(EmitHubOptions options, List<string> items)
    {
        var normalized = new List<string>(items.Count);
        foreach (var item in items)
        {
            var n = _normalizeItem(item);
            if (n is null)
            {
                return ConfigValueError.InvalidValue;
            }
            normalized.Add(n);
        }
        if (normalized.Count == 0)
        {
            return ConfigValueError.InvalidValue;
        }
        _set(options, normalized);
        return null;
    }

    /// <inheritdoc />
    public override string? FormatToml(EmitHubOptions options) =>
        "[" + string.Join(", ", _get(options).Select(StringEscaping.Quote)) + "]";

    /// <inheritdoc />
    public override string? FormatDisplay(EmitHubOptions options) => string.Join(",", _get(options));

    /// <inheritdoc />
    public override void Copy(EmitHubOptions from, EmitHubOptions to) => _set(to, [.. _get(from)]);
}
