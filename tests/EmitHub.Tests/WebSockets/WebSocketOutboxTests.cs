using System.Buffers;
using EmitHub.Core.Fanout;
using EmitHub.Net.WebSockets;

namespace EmitHub.Tests.WebSockets;

public class WebSocketOutboxTests
{
    private static OutboundMessage Message(int length) => OutboundMessage.Copy(new byte[length]);

    [Fact]
    public async Task Slow_consumer_is_closed_1008_and_its_queued_frames_are_dropped_and_released()
    {
        var outbox = new WebSocketOutbox(Guid.NewGuid(), maxPendingBytes: 100);
        var messages = Enumerable.Range(0, 4).Select(_ => Message(40)).ToArray();
        Assert.True(outbox.TryEnqueue(messages[0]));
        Assert.True(outbox.TryEnqueue(messages[1]));
        Assert.False(outbox.TryEnqueue(messages[2])); // 120 > 100
        Assert.False(outbox.TryEnqueue(messages[3]));

        Assert.True(outbox.IsSlowConsumer);
        Assert.Equal(1008, outbox.CloseCode);
        Assert.Equal("slow consumer", outbox.CloseReason);
        Assert.All(messages, m => Assert.Equal(1, m.RefCount)); // dropped frames were released at once
        Assert.Equal(0, outbox.Queue.PendingBytes);

        Assert.False(await outbox.WaitAsync());
        var writer = new ArrayBufferWriter<byte>();
        Assert.True(outbox.TryWriteCloseFrame(writer));
        Assert.False(outbox.TryWriteCloseFrame(writer)); // once
        Assert.Equal("880F03F0" + Convert.ToHexString("slow consumer"u8), Convert.ToHexString(writer.WrittenSpan));
        outbox.Dispose();
        foreach (var m in messages)
        {
            m.Release();
        }
    }

    [Fact]
    public async Task Close_sends_what_is_queued_before_the_close_frame_and_the_first_code_wins()
    {
        var outbox = new WebSocketOutbox(Guid.NewGuid(), 1 << 20);
        var stopped = Message(10);
        Assert.True(outbox.TryEnqueue(stopped));
        outbox.Close(1001, "Channel stopped");
        outbox.Close(1008, "later");
        Assert.False(outbox.TryEnqueue(Message(1)));

        Assert.True(await outbox.WaitAsync());
        var segments = new List<ReadOnlyMemory<byte>>();
        Assert.Equal(1, outbox.Drain(segments));
        outbox.ReleaseSent();
        Assert.False(await outbox.WaitAsync());

        var writer = new ArrayBufferWriter<byte>();
        Assert.True(outbox.TryWriteCloseFrame(writer));
        Assert.Equal("881103E9" + Convert.ToHexString("Channel stopped"u8), Convert.ToHexString(writer.WrittenSpan));
        Assert.False(outbox.IsSlowConsumer);
        outbox.Dispose();
        stopped.Release();
        Assert.Equal(0, stopped.RefCount);
    }

    [Fact]
    public async Task Ping_flood_and_keepalive_ping_wake_the_send_loop_once_and_write_sixteen_pongs_and_one_ping()
    {
        var outbox = new WebSocketOutbox(Guid.NewGuid(), 1 << 20);
        var wait = outbox.WaitAsync();
        Assert.False(wait.IsCompleted);
        for (byte i = 1; i <= 100; i++)
        {
            outbox.OnPing([i]);
        }
        outbox.SendPing("hb"u8);
        Assert.True(await wait);

        var writer = new ArrayBufferWriter<byte>();
        Assert.Equal(PendingPong.MaxPendingPongs + 1, outbox.WriteControlFrames(writer));
        // FIN=1 PONG len=1 for pings 1..15 and the 100th (0x64), then FIN=1 PING len=2 "hb"
        var pongs = Enumerable.Range(1, PendingPong.MaxPendingPongs - 1).Append(100).Select(i => $"8A01{i:X2}");
        Assert.Equal(string.Concat(pongs) + "89026862", Convert.ToHexString(writer.WrittenSpan));
        Assert.Equal(0, outbox.WriteControlFrames(writer));
        outbox.Dispose();
    }

    /// <summary>Issue 10: the pong state is created by the first ping, so an idle connection whose peer never pings
    /// (browsers do not) holds none; a keepalive ping of ours does not create it.</summary>
    [Fact]
    public void The_pong_state_is_created_by_the_peers_first_ping_and_not_before()
    {
        var outbox = new WebSocketOutbox(Guid.NewGuid(), 1 << 20);
        var writer = new ArrayBufferWriter<byte>();
        outbox.SendPing("hb"u8);
        Assert.Equal(1, outbox.WriteControlFrames(writer));
        Assert.False(outbox.HoldsPendingPongForTests);

        outbox.OnPing([7]);
        Assert.True(outbox.HoldsPendingPongForTests);
        writer.Clear();
        Assert.Equal(1, outbox.WriteControlFrames(writer));
        Assert.Equal("8A0107", Convert.ToHexString(writer.WrittenSpan));
        outbox.Dispose();
    }

    [Fact]
    public void Echoing_a_close_without_code_sends_an_empty_close_frame()
    {
        var outbox = new WebSocketOutbox(Guid.NewGuid(), 1 << 20);
        outbox.Close(WebSocketCloseCodes.NoStatusReceived, "");
        var writer = new ArrayBufferWriter<byte>();
        Assert.True(outbox.TryWriteCloseFrame(writer));
        Assert.Equal("8800", Convert.ToHexString(writer.WrittenSpan));
        outbox.Dispose();
    }
}
