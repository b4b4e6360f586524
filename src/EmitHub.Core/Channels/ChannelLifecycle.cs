namespace EmitHub.Core.Channels;

/// <summary>What an operator asks of a channel's status (SPEC §2: <c>PUT …/start|pause|stop</c>, <c>DELETE</c>).</summary>
internal enum ChannelCommand
{
    Start,
    Pause,
    Stop,
    Delete,
}

/// <summary>The status envelope a transition sends to the channel's clients (SPEC §3, §6).</summary>
internal enum ChannelNotice
{
    /// <summary>Nothing is sent.</summary>
    None,
    /// <summary><c>paused</c>; connections stay open.</summary>
    Paused,
    /// <summary><c>resumed</c>; connections stay open.</summary>
    Resumed,
    /// <summary><c>stopped</c>, then every client is closed (1001).</summary>
    Stopped,
}

/// <summary>One cell of <see cref="ChannelLifecycle"/>'s table.</summary>
/// <param name="Allowed">False: refused with 409 and <see cref="Refusal"/>.</param>
/// <param name="Next">The status after the command (for Delete: the last status, the channel then ceases to exist).</param>
/// <param name="Notice">What the channel's clients are sent.</param>
/// <param name="Refusal">Why a refused command is refused, a sentence with <c>{0}</c> for the channel's name.</param>
internal readonly record struct ChannelTransition(bool Allowed, ChannelStatus Next, ChannelNotice Notice, string? Refusal = null)
{
    /// <summary>True when the command changes the status (an allowed command on the status it asks for changes nothing).</summary>
    public bool Changes(ChannelStatus from) => Allowed && (Next != from || Notice != ChannelNotice.None);
}

/// <summary>
/// A channel's lifecycle as one table: status × command → next status + the notice its clients get (SPEC §2, §6:
/// start from Created, Paused or Stopped; pause only from Active; stop not from Created; all idempotent; delete from
/// anywhere). The registry applies a cell under the channel's lock; nothing else changes a status.
/// </summary>
internal static class ChannelLifecycle
{
    private const string PauseRefused = "Channel {0} is {1}; only an Active channel can be paused.";
    private const string StopRefused = "Channel {0} was never started; only an Active or Paused channel can be stopped.";

    // Rows: Created, Active, Paused, Stopped. Columns: Start, Pause, Stop, Delete.
    private static readonly ChannelTransition[,] s_table =
    {
        {
            new(true, ChannelStatus.Active, ChannelNotice.None),
            new(false, ChannelStatus.Created, ChannelNotice.None, PauseRefused),
            new(false, ChannelStatus.Created, ChannelNotice.None, StopRefused),
            new(true, ChannelStatus.Created, ChannelNotice.Stopped),
        },
        {
            new(true, ChannelStatus.Active, ChannelNotice.None),
            new(true, ChannelStatus.Paused, ChannelNotice.Paused),
            new(true, ChannelStatus.Stopped, ChannelNotice.Stopped),
            new(true, ChannelStatus.Active, ChannelNotice.Stopped),
        },
        {
            new(true, ChannelStatus.Active, ChannelNotice.Resumed),
            new(true, ChannelStatus.Paused, ChannelNotice.None),
            new(true, ChannelStatus.Stopped, ChannelNotice.Stopped),
            new(true, ChannelStatus.Paused, ChannelNotice.Stopped),
        },
        {
            new(true, ChannelStatus.Active, ChannelNotice.None),
            new(false, ChannelStatus.Stopped, ChannelNotice.None, PauseRefused),
            new(true, ChannelStatus.Stopped, ChannelNotice.None),
            new(true, ChannelStatus.Stopped, ChannelNotice.Stopped),
        },
    };

    /// <summary>The table's cell for <paramref name="command"/> on a channel in <paramref name="from"/>.</summary>
    public static ChannelTransition Decide(ChannelStatus from, ChannelCommand command) => s_table[(int)from, (int)command];

    /// <summary>The 409 sentence of a refused transition.</summary>
    public static string RefusalMessage(in ChannelTransition transition, string channelName, ChannelStatus from) =>
        string.Format(System.Globalization.CultureInfo.InvariantCulture, transition.Refusal ?? "", channelName, from);

    /// <summary>The envelope <c>status</c> and <c>message</c> of a notice (SPEC §6 texts).</summary>
    public static (string Status, string Message) Envelope(ChannelNotice notice, string channelName) => notice switch
    {
        ChannelNotice.Paused => ("paused", $"Channel {channelName} is paused"),
        ChannelNotice.Resumed => ("resumed", $"Channel {channelName} resumed"),
        ChannelNotice.Stopped => ("stopped", $"Channel {channelName} stopped"),
        _ => throw new ArgumentOutOfRangeException(nameof(notice)),
    };
}
