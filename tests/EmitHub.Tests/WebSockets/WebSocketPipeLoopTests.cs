using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using EmitHub.Core.Fanout;
using EmitHub.Net.WebSockets;

namespace EmitHub.Tests.WebSockets;

/// <summary>
/// The pieces wired the way the connection loop will wire them, over in-memory pipes (no sockets): a read loop
/// feeding <see cref="WebSocketProtocolReader"/>, a send loop draining a <see cref="WebSocketOutbox"/>, echo of text messages through <see cref="FrameBuilder"/>, and the closing handshake.
/// </summary>
public class WebSocketPipeLoopTests
{
    private sealed class EchoConnection
    {
        private readonly WebSocketProtocolReader _reader = new(new WebSocketReaderLimits(1 << 20, 1 << 20));
        private readonly WebSocketOutbox _outbox = new(Guid.NewGuid(), 1 << 20);
        private readonly FrameBuilder _builder = new(WebSocketFrameEncoder.Instance);

        public async Task RunAsync(PipeReader input, PipeWriter output)
        {
            var send = SendLoopAsync(output);
            await ReadLoopAsync(input);
            await send;
            _reader.Dispose();
            _builder.Dispose();
            _outbox.Dispose();
        }

        private async Task ReadLoopAsync(PipeReader input)
        {
            while (true)
            {
                var result = await input.ReadAsync();
                var buffer = result.Buffer;
                var done = false;
                while (!done && _reader.TryRead(ref buffer, out var ev))
                {
                    switch (ev.Kind)
                    {
                        case WebSocketEventKind.Text:
                            ev.Payload.Span.CopyTo(_builder.GetSpan(ev.Payload.Length));
                            _builder.Advance(ev.Payload.Length);
                            var message = _builder.Build();
                            _outbox.TryEnqueue(message);
                            message.Release();
                            break;
                        case WebSocketEventKind.Ping:
                            _outbox.OnPing(ev.Payload.Span);
                            break;
                        case WebSocketEventKind.Close:
                            _outbox.Close(ev.CloseCode, ev.GetCloseReason()); // echo the peer's code
                            done = true;
                            break;
                        case WebSocketEventKind.ProtocolError:
                            _outbox.Close(ev.CloseCode, ev.ErrorReason);
                            done = true;
                            break;
                    }
                }
                input.AdvanceTo(buffer.Start, buffer.End);
                if (done || result.IsCompleted)
                {
                    _outbox.Close(WebSocketCloseCodes.GoingAway, "");
                    await input.CompleteAsync();
                    return;
                }
            }
        }

        private async Task SendLoopAsync(PipeWriter output)
        {
            var segments = new List<ReadOnlyMemory<byte>>();
            while (await _outbox.WaitAsync())
            {
                _outbox.WriteControlFrames(output);
                _outbox.Drain(segments);
                foreach (var segment in segments)
                {
                    output.Write(segment.Span);
                }
                await output.FlushAsync();
                _outbox.ReleaseSent();
            }
            _outbox.WriteControlFrames(output);
            Assert.True(_outbox.TryWriteCloseFrame(output));
            await output.FlushAsync();
            await output.CompleteAsync();
        }
    }

    private static async Task<List<string>> RunAsync(byte[] clientBytes, int seed)
    {
        var toServer = new Pipe();
        var toClient = new Pipe();
        var server = new EchoConnection().RunAsync(toServer.Reader, toClient.Writer);

        var random = new Random(seed);
        var position = 0;
        while (position < clientBytes.Length)
        {
            var size = Math.Min(random.Next(1, 12), clientBytes.Length - position);
            await toServer.Writer.WriteAsync(clientBytes.AsMemory(position, size));
            position += size;
        }
        await toServer.Writer.CompleteAsync();

        var received = new ArrayBufferWriter<byte>();
        while (true)
        {
            var result = await toClient.Reader.ReadAsync();
            foreach (var segment in result.Buffer)
            {
                received.Write(segment.Span);
            }
            toClient.Reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }
        await server;
        return ReaderDriver.Run(received.WrittenSpan.ToArray(), new WebSocketReaderLimits(1 << 20, 1 << 20, RequireMaskedFrames: false));
    }

    [Fact]
    public async Task Echo_loop_answers_texts_in_order_every_ping_in_order_and_echoes_the_close_code()
    {
        var client = ClientFrame.Concat(
            ClientFrame.Text("hello"),
            ClientFrame.Build(WebSocketOpcode.Ping, [1]),
            ClientFrame.Build(WebSocketOpcode.Ping, [2]),
            ClientFrame.Build(WebSocketOpcode.Ping, [3]),
            ClientFrame.Text("ni", fin: false),
            ClientFrame.Continuation("ño €", fin: true),
            ClientFrame.Build(WebSocketOpcode.Close, [0x03, 0xE8, (byte)'b', (byte)'y', (byte)'e']));

        for (var seed = 0; seed < 20; seed++)
        {
            var events = await RunAsync(client, seed);
            Assert.Equal(["text:hello", "text:niño €"], events.Where(e => e.StartsWith("text:", StringComparison.Ordinal)));
            Assert.Equal(["pong:01", "pong:02", "pong:03"], events.Where(e => e.StartsWith("pong:", StringComparison.Ordinal)));
            Assert.Equal(["close:1000:bye", "finished"], events[^2..]);
        }
    }

    [Fact]
    public async Task Protocol_error_is_answered_with_its_close_code_and_reason()
    {
        // FIN=1 TEXT MASK=1 len=5 "hi" ok, then FIN=1 TEXT MASK=0 len=2: unmasked.
        var client = ClientFrame.Concat(ClientFrame.Text("ok"), [0x81, 0x02, (byte)'h', (byte)'i']);
        var events = await RunAsync(client, seed: 1);
        Assert.Equal(["text:ok", "close:1002:Client frames must be masked.", "finished"], events);
    }
}
