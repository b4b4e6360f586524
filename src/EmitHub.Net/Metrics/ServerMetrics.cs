using System.Diagnostics.Metrics;
using System.Text.Json;
using EmitHub.Net.Transport;
using EmitHub.Net.WebSockets;

namespace EmitHub.Net.Metrics;

/// <summary>
/// Net's instruments on the server's <c>EmitHub</c> meter. All are observable: they read counters the connections
/// keep anyway (<see cref="WebSocketCounters"/>, per-connection byte counts, the server's connection table) when
/// <c>/metrics</c> or <c>dotnet-counters</c> collects, so nothing is recorded per message or per send.
/// </summary>
public static class ServerMetrics
{
    private static readonly string[] s_closeReasonLabels = BuildCloseReasonLabels();

    /// <summary>What the server exposes to its observable instruments.</summary>
    public interface ISource
    {
        /// <summary>TCP connections open now (HTTP and upgraded).</summary>
        int OpenConnections { get; }

        /// <summary>TCP connections accepted since start.</summary>
        long AcceptedConnections { get; }

        /// <summary>TCP connections closed since start, by <see cref="ConnectionCloseReason"/>.</summary>
        long ClosedConnections(ConnectionCloseReason reason);

        /// <summary>Bytes received and sent since start, over every connection, open or closed.</summary>
        (long Received, long Sent) TotalBytes();

        /// <summary>The WebSocket counters, or null when the WebSocket layer is not the server's own.</summary>
        WebSocketCounters? WebSockets { get; }
    }

    /// <summary>Creates the connection, traffic, WebSocket and process instruments on <paramref name="meter"/>.</summary>
    public static void Register(Meter meter, ISource source)
    {
        meter.CreateObservableGauge("emithub.connections", () => (long)source.OpenConnections, "{connection}",
            "TCP connections open now (HTTP and WebSocket).");
        meter.CreateObservableCounter("emithub.connections.accepted", () => source.AcceptedConnections, "{connection}",
            "TCP connections accepted since start.");
        meter.CreateObservableCounter("emithub.connections.closed", () => ObserveClosed(source), "{connection}",
            "TCP connections closed since start, by reason (why the connection ended, first cause recorded).");
        meter.CreateObservableCounter("emithub.network.io", () => ObserveBytes(source), "By",
            "Bytes received from and sent to clients (HTTP and WebSocket; plaintext on TLS connections), by direction.");

        meter.CreateObservableGauge("emithub.websocket.connections", () => source.WebSockets?.Open ?? 0, "{connection}",
            "WebSocket connections open now (channel subscribers and echo).");
        meter.CreateObservableCounter("emithub.websocket.connections.opened", () => source.WebSockets?.Accepted ?? 0, "{connection}",
            "WebSocket connections upgraded since start.");
        meter.CreateObservableCounter("emithub.websocket.connections.closed", () => ObserveWebSocketClosed(source), "{connection}",
            "WebSocket connections closed since start, by reason: client_close, going_away (shutdown, channel stopped or deleted), denied (channel not Active), channel_full, pong_timeout, protocol_error, slow_consumer, abnormal (no closing handshake), other.");
        meter.CreateObservableCounter("emithub.slow_consumers", () => source.WebSockets?.SlowConsumers ?? 0, "{connection}",
            "WebSocket clients closed 1008 \"slow consumer\" because their queue passed max_pending_bytes (their pending messages were dropped).");

        ProcessMetrics.Register(meter);
    }

    private static IEnumerable<Measurement<long>> ObserveClosed(ISource source)
    {
        var list = new List<Measurement<long>>(s_closeReasonLabels.Length);
        for (var i = 1; i < s_closeReasonLabels.Length; i++)
        {
            list.Add(new(source.ClosedConnections((ConnectionCloseReason)i), new KeyValuePair<string, object?>("reason", s_closeReasonLabels[i])));
        }
        return list;
    }

    private static IEnumerable<Measurement<long>> ObserveBytes(ISource source)
    {
        var (received, sent) = source.TotalBytes();
        return
        [
            new(received, new KeyValuePair<string, object?>("direction", "received")),
            new(sent, new KeyValuePair<string, object?>("direction", "sent")),
        ];
    }

    private static IEnumerable<Measurement<long>> ObserveWebSocketClosed(ISource source)
    {
        var labels = WebSocketCloseKinds.Labels;
        var list = new List<Measurement<long>>(labels.Length);
        for (var i = 0; i < labels.Length; i++)
        {
            list.Add(new(source.WebSockets?.Closed((WebSocketCloseKind)i) ?? 0, new KeyValuePair<string, object?>("reason", labels[i])));
        }
        return list;
    }

    /// <summary>Label values of <see cref="ConnectionCloseReason"/>, by value: the member name in snake_case.</summary>
    private static string[] BuildCloseReasonLabels()
    {
        var values = Enum.GetValues<ConnectionCloseReason>();
        var labels = new string[values.Max(v => (int)v) + 1];
        foreach (var value in values)
        {
            labels[(int)value] = JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());
        }
        return labels;
    }
}
