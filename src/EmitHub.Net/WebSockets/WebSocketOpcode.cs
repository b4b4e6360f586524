namespace EmitHub.Net.WebSockets;

/// <summary>The 4-bit opcode of a frame (RFC 6455 §5.2, §11.8). Values 0x3-0x7 and 0xB-0xF are reserved.</summary>
public enum WebSocketOpcode : byte
{
    /// <summary>0x0: a continuation frame of a fragmented message (RFC 6455 §5.4).</summary>
    Continuation = 0x0,

    /// <summary>0x1: the first (or only) frame of a text message; payload is UTF-8.</summary>
    Text = 0x1,

    /// <summary>0x2: the first (or only) frame of a binary message.</summary>
    Binary = 0x2,

    /// <summary>0x8: close control frame (RFC 6455 §5.5.1).</summary>
    Close = 0x8,

    /// <summary>0x9: ping control frame (RFC 6455 §5.5.2).</summary>
    Ping = 0x9,

    /// <summary>0xA: pong control frame (RFC 6455 §5.5.3).</summary>
    Pong = 0xA,
}
