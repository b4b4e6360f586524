using System.Buffers;
using System.Text;
using EmitHub.Net.WebSockets;

namespace EmitHub.Tests.WebSockets;

public class WebSocketHandshakeTests
{
    private const string RfcKey = "dGhlIHNhbXBsZSBub25jZQ==";
    private static readonly Version s_http11 = new(1, 1);

    private static WebSocketHandshakeResult Validate(
        string method = "GET", Version? version = null, string? upgrade = "websocket", string? connection = "Upgrade",
        string? wsVersion = "13", string? key = RfcKey)
        => WebSocketHandshake.Validate(method, version ?? s_http11, upgrade, connection, wsVersion, key);

    [Fact]
    public void Accept_value_matches_the_rfc_6455_example()
    {
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", WebSocketHandshake.ComputeAccept(RfcKey));
        var result = Validate();
        Assert.True(result.IsAccepted);
        Assert.Equal(101, result.StatusCode);
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", result.AcceptValue);
    }

    [Fact]
    public void Switching_protocols_response_is_exact()
    {
        var writer = new ArrayBufferWriter<byte>();
        WebSocketHandshake.WriteSwitchingProtocols(writer, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        Assert.Equal(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
            Encoding.ASCII.GetString(writer.WrittenSpan));
    }

    [Theory]
    [InlineData("WebSocket", "upgrade")]
    [InlineData("websocket", "keep-alive, Upgrade")]
    [InlineData("h2c, WEBSOCKET", "Upgrade ,keep-alive")]
    [InlineData(" websocket\t", "\tUPGRADE")]
    public void Token_lists_are_case_insensitive(string upgrade, string connection)
    {
        Assert.True(Validate(upgrade: upgrade, connection: connection).IsAccepted);
    }

    [Fact]
    public void Other_methods_are_405()
    {
        var result = Validate(method: "POST");
        Assert.Equal(405, result.StatusCode);
        Assert.Equal(WebSocketHandshakeRejection.MethodNotAllowed, result.Rejection);
        Assert.Equal([new("Allow", "GET")], result.ExtraHeaders);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("h2c")]
    [InlineData("websocketx")]
    public void Get_without_upgrade_websocket_is_426_with_upgrade_header(string? upgrade)
    {
        var result = Validate(upgrade: upgrade);
        Assert.Equal(426, result.StatusCode);
        Assert.Equal([new("Upgrade", "websocket")], result.ExtraHeaders);
    }

    [Fact]
    public void Upgrade_over_http_1_0_is_400()
    {
        var result = Validate(version: new Version(1, 0));
        Assert.Equal(400, result.StatusCode);
        Assert.Equal(WebSocketHandshakeRejection.HttpVersionTooLow, result.Rejection);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("keep-alive")]
    [InlineData("upgrades")]
    public void Connection_without_the_upgrade_token_is_400(string? connection)
    {
        var result = Validate(connection: connection);
        Assert.Equal(400, result.StatusCode);
        Assert.Equal(WebSocketHandshakeRejection.MissingConnectionUpgrade, result.Rejection);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("8")]
    [InlineData("14")]
    [InlineData("13, 8")]
    public void Wrong_version_is_426_with_sec_websocket_version_13(string? wsVersion)
    {
        var result = Validate(wsVersion: wsVersion);
        Assert.Equal(426, result.StatusCode);
        Assert.Equal([new("Upgrade", "websocket"), new("Sec-WebSocket-Version", "13")], result.ExtraHeaders);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("dGhlIHNhbXBsZSBub25jZQ=")]    // 23 chars
    [InlineData("dGhlIHNhbXBsZSBub25jZQ===")]  // 25 chars
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAA=")]   // 24 chars, 17 bytes
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAA")]   // 24 chars, 18 bytes
    [InlineData("dGhlIHNhbXBsZSBub25jZ!==")]   // not base64
    [InlineData("dGhlIHNhbXBsZ SBub25jZQ=")]   // inner space
    [InlineData("dGhlIHNhbXBsZSBub25jZQ==, dGhlIHNhbXBsZSBub25jZQ==")] // repeated field, joined
    public void Bad_key_is_400(string? key)
    {
        var result = Validate(key: key);
        Assert.Equal(400, result.StatusCode);
        Assert.Equal(WebSocketHandshakeRejection.InvalidKey, result.Rejection);
        Assert.Null(result.AcceptValue);
    }

    [Fact]
    public void Key_with_surrounding_whitespace_is_trimmed()
    {
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", Validate(key: " " + RfcKey + "\t").AcceptValue);
    }
}
