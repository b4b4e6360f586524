using EmitHub.Core.Channels;
using EmitHub.Core.Configuration;
using Microsoft.Extensions.Logging;

namespace EmitHub.Core.Storage;

/// <summary>
/// Periodic store upkeep (SPEC §5): applies <c>message_retention_days</c> and <c>max_messages_per_channel</c>
/// every <see cref="RetentionInterval"/>, and with <c>auto_backup</c> writes a consistent snapshot into
/// <c>db_path/backups/&lt;yyyyMMddTHHmmssZ&gt;/</c> every <c>backup_interval_hours</c>, keeping the newest
/// <see cref="BackupsKept"/>. Time comes from <see cref="TimeProvider"/> so tests can move it.
/// </summary>
public sealed partial class StoreMaintenance
{
    /// <summary>How often retention runs. One minute keeps "logically at once" close without busy work.</summary>
    public static readonly TimeSpan RetentionInterval = TimeSpan.FromMinutes(1);

    /// <summary>Backups kept in <c>db_path/backups</c>; older ones are deleted after a new one succeeds.</summary>
    public const int BackupsKept = 5;

    private readonly ChannelRegistry _registry;
    private readonly LiveOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private DateTimeOffset _lastBackup;

    /// <summary>Creates the upkeep loop; nothing runs until <see cref="RunAsync"/>.</summary>
    public StoreMaintenance(ChannelRegistry registry, LiveOptions options, TimeProvider time, ILogger<StoreMaintenance> logger)
    {
        _registry = registry;
        _options = options;
        _time = time;
        _logger = logger;
        _lastBackup = time.GetUtcNow();
    }

    /// <summary>Runs until <paramref name="cancellationToken"/> is cancelled; failures are logged, never thrown.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(RetentionInterval, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            await RunOnceAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One round: retention, then a backup when one is due. Returns the backup directory written, if any.</summary>
    public async Task<string?> RunOnceAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _registry.ApplyRetentionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogRetentionFailed(ex);
        }
        var persistence = _options.Current.Persistence;
        var now = _time.GetUtcNow();
        if (!persistence.AutoBackup || now - _lastBackup < TimeSpan.FromHours(persistence.BackupIntervalHours))
        {
            return null;
        }
        return await BackupNowAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes a backup now into <c>db_path/backups/&lt;timestamp&gt;</c> and prunes old ones.</summary>
    public async Task<string?> BackupNowAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var directory = FasterChannelStore.GetBackupDirectory(_options.Startup.DbPath, now);
        var root = Path.GetDirectoryName(directory)!;
        try
        {
            await _registry.Store.BackupAsync(directory, cancellationToken).ConfigureAwait(false);
            _lastBackup = now;
            LogBackupWritten(directory);
            FasterChannelStore.PruneBackups(root, BackupsKept);
            return directory;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogBackupFailed(directory, ex);
            return null;
        }
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Warning, Message = "Retention run failed")]
    private partial void LogRetentionFailed(Exception exception);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Backup written to {Directory}")]
    private partial void LogBackupWritten(string directory);

    [LoggerMessage(EventId = 302, Level = LogLevel.Error, Message = "Backup to {Directory} failed")]
    private partial void LogBackupFailed(string directory, Exception exception);
}
