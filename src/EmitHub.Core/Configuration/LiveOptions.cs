namespace EmitHub.Core.Configuration;

/// <summary>
/// The running configuration. Hot reload (SPEC §1) swaps <see cref="Current"/> atomically; readers take one
/// snapshot per operation, so a request never sees half of an old and half of a new configuration.
/// Settings that cannot change live (host, port, db_path) keep their startup values in <see cref="Startup"/>.
/// </summary>
public sealed class LiveOptions
{
    private EmitHubOptions _current;

    /// <summary>Creates the holder with the options the process started with.</summary>
    public LiveOptions(EmitHubOptions startup)
    {
        Startup = startup;
        _current = startup;
    }

    /// <summary>The options the process started with (bind address, store path).</summary>
    public EmitHubOptions Startup { get; }

    /// <summary>The latest valid options. Treat the returned object as immutable.</summary>
    public EmitHubOptions Current => Volatile.Read(ref _current);

    /// <summary>Raised after <see cref="Update"/> with the old and new options.</summary>
    public event Action<EmitHubOptions, EmitHubOptions>? Changed;

    /// <summary>Publishes a new, already validated configuration.</summary>
    public void Update(EmitHubOptions next)
    {
        var previous = Interlocked.Exchange(ref _current, next);
        Changed?.Invoke(previous, next);
    }
}
