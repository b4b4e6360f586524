using EmitHub.Core.Configuration;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;

namespace EmitHub.Cluster;

/// <summary>Maps <c>[cluster]</c> to the NATS.Net client options (URLs, name, credentials, TLS, reconnects).</summary>
public static class NatsConnectionOptions
{
    /// <summary>
    /// The client options for <paramref name="cluster"/>. Reconnects never stop (a node outlives a NATS outage and
    /// resumes by itself); each wait is 0.25–2 s so a restarted server is found within about two seconds.
    /// </summary>
    /// <param name="cluster">The <c>[cluster]</c> section; <see cref="ClusterOptions.NatsUrl"/> must be set.</param>
    /// <param name="nodeName">The connection name the NATS server shows (<c>emit-hub &lt;node&gt;</c>).</param>
    /// <param name="loggerFactory">Where the client logs.</param>
    public static NatsOpts Create(ClusterOptions cluster, string nodeName, ILoggerFactory loggerFactory)
    {
        var auth = NatsAuthOpts.Default;
        if (cluster.CredsFile is { } creds)
        {
            auth = auth with { CredsFile = creds };
        }
        if (cluster.User is { } user)
        {
            auth = auth with { Username = user, Password = cluster.Password };
        }
        if (cluster.Token is { } token)
        {
            auth = auth with { Token = token };
        }
        var tls = NatsTlsOpts.Default;
        if (cluster.TlsCaFile is not null || cluster.TlsCertFile is not null)
        {
            tls = tls with
            {
                Mode = TlsMode.Require,
                CaFile = cluster.TlsCaFile,
                CertFile = cluster.TlsCertFile,
                KeyFile = cluster.TlsKeyFile,
            };
        }
        return NatsOpts.Default with
        {
            Url = cluster.NatsUrl!,
            Name = $"emit-hub {nodeName}",
            AuthOpts = auth,
            TlsOpts = tls,
            LoggerFactory = loggerFactory,
            MaxReconnectRetry = -1,
            ReconnectWaitMin = TimeSpan.FromMilliseconds(250),
            ReconnectWaitMax = TimeSpan.FromSeconds(2),
            ReconnectJitter = TimeSpan.FromMilliseconds(100),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            RequestTimeout = TimeSpan.FromSeconds(5),
            // A broadcast posted while NATS is down must fail now (503), not wait in the client's buffer.
            PublishTimeoutOnDisconnected = true,
        };
    }
}
