using EmitHub.Net.Http;

namespace EmitHub.Tests.Http;

/// <summary>Status lines carry RFC 9110 §15 reason phrases for every status the hub sends (a new-user test saw
/// "HTTP/1.1 301 Unknown" from a static directory, "304 Unknown" from a conditional GET, "406 Unknown" from /events).</summary>
public sealed class ReasonPhraseTests
{
    [Theory]
    [InlineData(202, "Accepted")]
    [InlineData(301, "Moved Permanently")]
    [InlineData(302, "Found")]
    [InlineData(304, "Not Modified")]
    [InlineData(307, "Temporary Redirect")]
    [InlineData(308, "Permanent Redirect")]
    [InlineData(406, "Not Acceptable")]
    [InlineData(411, "Length Required")]
    [InlineData(412, "Precondition Failed")]
    [InlineData(417, "Expectation Failed")]
    [InlineData(422, "Unprocessable Content")]
    [InlineData(502, "Bad Gateway")]
    [InlineData(504, "Gateway Timeout")]
    [InlineData(200, "OK")]
    public void Each_status_the_hub_can_send_has_its_rfc_9110_reason_phrase(int status, string phrase) =>
        Assert.Equal(phrase, ResponseWriter.ReasonPhrase(status));
}
