using EmitHub.Core.Channels;
using EmitHub.Core.Fanout;
using static EmitHub.Tests.Channels.ChannelTestKit;

namespace EmitHub.Tests.Channels;

/// <summary>
/// A client's text that the receive loop hands over while a stop is being delivered — after the <c>stopped</c>
/// envelope went out, before the 1001 close — must not produce an <c>error</c> envelope after <c>stopped</c>
/// (found by ChannelConcurrencyStressTests under load: "error after stopped").
/// </summary>
public sealed class ClientTextAfterStopTests
{
    /// <summary>Records like <see cref="RecordingSubscriber"/>, and runs a hook right after a chosen status arrives.</summary>
    private sealed class HookedSubscriber(RecordingSubscriber inner) : IChannelSubscriber
    {
        public Action<string>? AfterStatus { get; set; }

        public Guid ConnectionId => inner.ConnectionId;

        public bool TryEnqueue(OutboundMessage message)
        {
            if (!inner.TryEnqueue(message))
            {
                return false;
            }
            AfterStatus?.Invoke(inner.Statuses[^1]);
            return true;
        }

        public void Close(SubscriberCloseReason reason) => inner.Close(reason);
    }

    [Theory]
    [InlineData("""{"name":"Sala","settings":{"allow_client_messages":true}}""")]
    [InlineData("""{"name":"Kiosk"}""")]
    [InlineData("""{"name":"Sala","settings":{"allow_client_messages":true,"rate_limit_per_minute":1}}""")]
    public async Task Text_relayed_between_stopped_and_the_close_gets_no_error_after_stopped(string create)
    {
        var registry = NewRegistry();
        var channel = await CreateAsync(registry, create);
        await registry.StartAsync(channel.Id, default);
        var recording = new RecordingSubscriber();
        var client = new HookedSubscriber(recording);
        var subscription = (await registry.SubscribeAsync(channel.Id, client, null, null, default)).Subscription!;
        subscription.OnClientText("uno"); // spends the rate-limited channel's one message per minute
        client.AfterStatus = status =>
        {
            if (status == "stopped")
            {
                subscription.OnClientText("tarde");
            }
        };

        await registry.StopAsync(channel.Id, default);

        var statuses = recording.Statuses;
        Assert.Equal("stopped", statuses[^1]);
        Assert.Equal((ushort)1001, recording.CloseCode);
    }
}
