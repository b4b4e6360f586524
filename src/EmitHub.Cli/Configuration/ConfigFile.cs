using System.Text;

namespace EmitHub.Cli.Configuration;

/// <summary>Which TOML file the configuration comes from, and why.</summary>
/// <param name="Path">The file to read (and to watch for hot reload).</param>
/// <param name="Required">True when named by <c>--config</c> or <c>EMIT_HUB_CONFIG</c>: a missing file is an error.</param>
/// <param name="Origin">How it was chosen, for messages: <c>--config</c>, <c>EMIT_HUB_CONFIG</c> or <c>default</c>.</param>
public readonly record struct ConfigFileChoice(string Path, bool Required, string Origin);

/// <summary>Finding and reading the TOML file (SPEC §1: <c>--config PATH</c>, else <c>EMIT_HUB_CONFIG</c>, else <c>./emit_hub.toml</c>).</summary>
public static class ConfigFile
{
    /// <summary>The file looked for in the working directory when none is named.</summary>
    public const string DefaultFileName = "emit_hub.toml";

    /// <summary>Largest configuration file read, in bytes (1 MiB); a real one is a few KiB.</summary>
    public const int MaxFileBytes = 1 << 20;

    /// <summary>Chooses the file. The default file is chosen even when absent, so hot reload picks it up once created.</summary>
    public static ConfigFileChoice Locate(string? commandLinePath, IReadOnlyDictionary<string, string> environment)
    {
        if (!string.IsNullOrEmpty(commandLinePath))
        {
            return new ConfigFileChoice(commandLinePath, Required: true, "--config");
        }
        if (environment.TryGetValue(ConfigKeys.ConfigEnvName, out var fromEnv) && fromEnv.Length > 0)
        {
            return new ConfigFileChoice(fromEnv, Required: true, ConfigKeys.ConfigEnvName);
        }
        return new ConfigFileChoice(DefaultFileName, Required: false, "default");
    }

    /// <summary>Reads the file as UTF-8.</summary>
    /// <param name="path">File to read.</param>
    /// <param name="text">The text, or null when the file does not exist.</param>
    /// <param name="error">A sentence when the file exists but cannot be read or is too large; else null.</param>
    /// <returns>True when the file was read or does not exist; false on a read error.</returns>
    public static bool TryRead(string path, out string? text, out string? error)
    {
        text = null;
        error = null;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (stream.Length > MaxFileBytes)
            {
                error = $"Configuration file {path} is {stream.Length} bytes; at most {MaxFileBytes} bytes are read.";
                return false;
            }
            using var reader = new StreamReader(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true));
            text = reader.ReadToEnd();
            return true;
        }
        catch (FileNotFoundException)
        {
            return true;
        }
        catch (DirectoryNotFoundException)
        {
            return true;
        }
        catch (DecoderFallbackException)
        {
            error = $"Configuration file {path} is not valid UTF-8.";
            return false;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            error = $"Configuration file {path} cannot be read: {ex.Message}";
            return false;
        }
    }

    /// <summary>
    /// Locates, reads and loads the configuration: the one entry point used at startup and on hot reload.
    /// A required file that is missing or unreadable is an error diagnostic.
    /// </summary>
    public static ConfigLoadResult Load(ConfigFileChoice file, IReadOnlyDictionary<string, string> environment,
        IReadOnlyList<CommandLineOverride> commandLine)
    {
        if (!TryRead(file.Path, out var text, out var readError) || (text is null && file.Required))
        {
            var message = readError
                ?? $"Configuration file {file.Path} (named by {file.Origin}) does not exist.";
            var empty = ConfigLoader.Load(new ConfigSources { Environment = environment, CommandLine = commandLine });
            return new ConfigLoadResult(empty.Options,
                [new ConfigDiagnostic(ConfigSeverity.Error, message, file.Origin, null), .. empty.Diagnostics], file.Path, null);
        }
        return ConfigLoader.Load(new ConfigSources
        {
            FilePath = text is null ? null : file.Path,
            FileText = text,
            Environment = environment,
            CommandLine = commandLine,
        });
    }

    /// <summary>The process environment as a dictionary (only <c>EMIT_HUB_*</c> variables are kept).</summary>
    public static IReadOnlyDictionary<string, string> ReadProcessEnvironment()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in System.Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string name && name.StartsWith(ConfigKeys.EnvPrefix, StringComparison.Ordinal))
            {
                result[name] = entry.Value as string ?? "";
            }
        }
        return result;
    }
}
