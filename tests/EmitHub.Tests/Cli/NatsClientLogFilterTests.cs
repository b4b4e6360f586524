using EmitHub.Cli.Logging;
using Microsoft.Extensions.Logging;

namespace EmitHub.Tests.Cli;

/// <summary>
/// NATS.Net logs every failed reconnect attempt as a warning with an 8-line stack trace, every ~2 s per node during
/// an outage (a new-user test counted ~20k lines an hour), burying EmitHub's own one-line state changes. Below
/// debug, only its errors pass; at debug and trace everything passes; EmitHub's own categories are untouched.
/// </summary>
public sealed class NatsClientLogFilterTests
{
    [Theory]
    [InlineData("NATS.Client.Core.NatsConnection", LogLevel.Warning, LogLevel.Information, false)]
    [InlineData("NATS.Client.Core.NatsConnection", LogLevel.Information, LogLevel.Information, false)]
    [InlineData("NATS.Client.JetStream.NatsJSContext", LogLevel.Warning, LogLevel.Warning, false)]
    [InlineData("NATS.Client.Core.NatsConnection", LogLevel.Error, LogLevel.Information, true)]
    [InlineData("NATS.Client.Core.NatsConnection", LogLevel.Critical, LogLevel.Warning, true)]
    [InlineData("NATS.Client.Core.NatsConnection", LogLevel.Warning, LogLevel.Debug, true)]
    [InlineData("NATS.Client.Core.NatsConnection", LogLevel.Debug, LogLevel.Trace, true)]
    [InlineData("EmitHub.Cluster.JetStreamClusterStore", LogLevel.Warning, LogLevel.Information, true)]
    [InlineData("NATSish.Other", LogLevel.Warning, LogLevel.Information, true)]
    public void Nats_client_chatter_is_kept_to_errors_unless_debugging(string category, LogLevel level, LogLevel configured, bool passes) =>
        Assert.Equal(passes, NatsClientLogFilter.Allows(category, level, configured));
}
