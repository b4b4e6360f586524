using System.Text;
using System.Text.Json;
using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Auth;

/// <summary>
/// <c>POST …/tokens</c> reads its body under the same JSON policy as every other endpoint (SPEC §4): duplicate
/// members are 400 with a sentence, the same error shapes, the same <c>Content-Type</c> handling and hint. Checked
/// over raw HTTP, each bad body answered exactly as <c>PATCH /api/v1/channels/{id}</c> answers it.
/// </summary>
public class TokenRequestBodyTests
{
    [Theory]
    // A repeated member: JSON parsers disagree on which one wins, so every endpoint refuses it.
    [InlineData("""{"sub":"pantalla-1","sub":"pantalla-2"}""", "application/json", 400, "repeats a member name")]
    [InlineData("""{"ttl_seconds":60,"ttl_seconds":2592000}""", "application/json", 400, "repeats a member name")]
    // No Content-Type (curl -d without -H): read as JSON, and a 400 says what to send instead of form fields.
    [InlineData("sub=pantalla-1", null, 400, "'Content-Type: application/json'")]
    [InlineData("sub=pantalla-1", "application/x-www-form-urlencoded", 400, "form fields")]
    [InlineData("""["pantalla-1"]""", "application/json", 400, "must be a JSON object")]
    [InlineData("""{"sub":"a"} {}""", "application/json", 400, "not valid JSON")]
    [InlineData("""{"sub":"pantalla-1"}""", "text/plain", 415, "Content-Type: application/json")]
    public async Task A_bad_token_request_body_is_answered_like_any_other_json_body(string body, string? contentType, int status, string sentencePart)
    {
        await using var hub = await TestHubServer.StartAsync(o => o.Auth.TokenSecret = TestJwt.Secret);
        var id = await hub.CreateActiveChannelAsync();
        using var connection = await RawHttpConnection.ConnectAsync(hub.EndPoint);

        var token = await SendAsync(connection, "POST", $"/api/v1/channels/{id}/tokens", body, contentType);
        var patch = await SendAsync(connection, "PATCH", $"/api/v1/channels/{id}", body, contentType);

        Assert.Equal(status, token.StatusCode);
        Assert.Equal(patch.StatusCode, token.StatusCode);
        Assert.Equal(patch.Body, token.Body);
        Assert.Equal(patch.Header("Content-Type"), token.Header("Content-Type"));
        using var error = JsonDocument.Parse(token.Body);
        Assert.Contains(sentencePart, error.RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_valid_token_request_still_mints_with_its_sub_and_ttl()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.Auth.TokenSecret = TestJwt.Secret);
        var id = await hub.CreateActiveChannelAsync();
        using var connection = await RawHttpConnection.ConnectAsync(hub.EndPoint);

        var minted = await SendAsync(connection, "POST", $"/api/v1/channels/{id}/tokens", """{"sub":"pantalla-1","ttl_seconds":120}""", null);
        var empty = await SendAsync(connection, "POST", $"/api/v1/channels/{id}/tokens", "", null);

        Assert.Equal(200, minted.StatusCode);
        using var body = JsonDocument.Parse(minted.Body);
        Assert.Equal("pantalla-1", body.RootElement.GetProperty("sub").GetString());
        var expires = DateTimeOffset.Parse(body.RootElement.GetProperty("expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange((expires - DateTimeOffset.UtcNow).TotalSeconds, 100, 125);
        Assert.Equal(200, empty.StatusCode);
        using var defaults = JsonDocument.Parse(empty.Body);
        var defaultExpiry = DateTimeOffset.Parse(defaults.RootElement.GetProperty("expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange((defaultExpiry - DateTimeOffset.UtcNow).TotalSeconds, 3580, 3605);
    }

    [Theory]
    // ttl_seconds follows the other whole-number fields: 60.0 is 60, a fraction or an out-of-range value is refused.
    [InlineData("""{"ttl_seconds":60.0}""", null, 60, null)]
    [InlineData("""{"sub":null,"ttl_seconds":null}""", null, 3600, null)]
    [InlineData("""{"sub":"pantalla-1","extra":[1,2]}""", "pantalla-1", 3600, null)]
    [InlineData("""{"ttl_seconds":1.5}""", null, 0, "got 1.5")]
    [InlineData("""{"ttl_seconds":0}""", null, 0, "from 1 to 2592000 (30 days); got 0")]
    [InlineData("""{"ttl_seconds":2592001}""", null, 0, "got 2592001")]
    [InlineData("""{"ttl_seconds":"60"}""", null, 0, "got \"60\"")]
    [InlineData("""{"sub":""}""", null, 0, "'sub' must be a string of 1 to 200")]
    [InlineData("""{"sub":"\ud800"}""", null, 0, "not valid Unicode")]
    public void A_token_request_body_parses_by_the_shared_rules(string body, string? subject, int ttl, string? errorPart)
    {
        var parsed = EmitHub.Net.Api.ChannelRequests.TryParseTokenRequest(Encoding.UTF8.GetBytes(body), out var request, out var error);

        if (errorPart is null)
        {
            Assert.True(parsed, error);
            Assert.Equal(new EmitHub.Net.Api.SubscriberTokenRequest(subject, ttl), request);
        }
        else
        {
            Assert.False(parsed);
            Assert.Null(request);
            Assert.Contains(errorPart, error);
        }
    }

    private static async Task<RawResponse> SendAsync(RawHttpConnection connection, string method, string path, string body, string? contentType)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var head = $"{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {bytes.Length}\r\n" +
                   (contentType is null ? "" : $"Content-Type: {contentType}\r\n") + "\r\n";
        await connection.SendAsync([.. Encoding.Latin1.GetBytes(head), .. bytes]);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return (await connection.ReadResponseAsync(cts.Token))!;
    }
}
