using EmitHub.Net.WebSockets.Compression;

namespace EmitHub.Tests.Compression;

/// <summary>RFC 7692 §5, §7.1: every offer form, several offers, invalid offers declined (never a refused handshake).</summary>
public class PerMessageDeflateNegotiationTests
{
    private static string? Answer(string? offers, WebSocketCompressionMode mode = WebSocketCompressionMode.Shared) =>
        PerMessageDeflateNegotiation.Negotiate(offers, mode)?.ToResponseHeader();

    [Theory]
    // Chromium, Node ws, python-websockets: "client_max_window_bits" without a value.
    [InlineData("permessage-deflate; client_max_window_bits", "permessage-deflate; server_no_context_takeover")]
    [InlineData("permessage-deflate", "permessage-deflate; server_no_context_takeover")]
    [InlineData("PerMessage-Deflate", "permessage-deflate; server_no_context_takeover")]
    [InlineData("permessage-deflate; client_no_context_takeover", "permessage-deflate; server_no_context_takeover; client_no_context_takeover")]
    [InlineData("permessage-deflate; server_no_context_takeover; client_no_context_takeover", "permessage-deflate; server_no_context_takeover; client_no_context_takeover")]
    // .NET ClientWebSocket with DangerousDeflateOptions.
    [InlineData("permessage-deflate; client_max_window_bits=15; server_max_window_bits=15", "permessage-deflate; server_no_context_takeover; server_max_window_bits=15")]
    [InlineData("permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_no_context_takeover; server_max_window_bits=10")]
    [InlineData("permessage-deflate; server_max_window_bits=\"8\"", "permessage-deflate; server_no_context_takeover; server_max_window_bits=8")]
    [InlineData("permessage-deflate;client_max_window_bits=\"12\"", "permessage-deflate; server_no_context_takeover")]
    [InlineData("x-webkit-deflate-frame, permessage-deflate", "permessage-deflate; server_no_context_takeover")]
    public void Shared_mode_accepts_every_valid_offer_form_with_server_no_context_takeover(string offer, string expected)
    {
        Assert.Equal(expected, Answer(offer));
    }

    [Theory]
    [InlineData("permessage-deflate; server_max_window_bits")]            // value required
    [InlineData("permessage-deflate; server_max_window_bits=7")]          // below 8
    [InlineData("permessage-deflate; server_max_window_bits=16")]         // above 15
    [InlineData("permessage-deflate; server_max_window_bits=010")]        // leading zero
    [InlineData("permessage-deflate; client_max_window_bits=0")]
    [InlineData("permessage-deflate; client_max_window_bits=abc")]
    [InlineData("permessage-deflate; server_no_context_takeover=1")]      // takes no value
    [InlineData("permessage-deflate; client_no_context_takeover; client_no_context_takeover")] // duplicate
    [InlineData("permessage-deflate; unknown_parameter")]
    [InlineData("permessage-deflate;")]                                   // empty parameter
    [InlineData("permessage-deflate; server_max_window_bits=\"1 0\"")]    // quoted value is not a token
    [InlineData("x-webkit-deflate-frame")]
    public void An_invalid_or_unknown_offer_is_declined(string offer)
    {
        Assert.Null(Answer(offer));
    }

    [Fact]
    public void With_several_offers_the_first_acceptable_one_wins()
    {
        Assert.Equal("permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            Answer("permessage-deflate; server_max_window_bits=16, permessage-deflate; client_no_context_takeover, permessage-deflate"));
        // Offers may also come on separate header lines, which the request joins with commas.
        Assert.Equal("permessage-deflate; server_no_context_takeover; server_max_window_bits=9",
            Answer("permessage-deflate; foo=bar,permessage-deflate; server_max_window_bits=9"));
    }

    [Fact]
    public void Off_declines_everything_and_no_offer_means_no_extension()
    {
        Assert.Null(Answer("permessage-deflate", WebSocketCompressionMode.Off));
        Assert.Null(Answer(null));
        Assert.Null(Answer(""));
    }

    [Theory]
    [InlineData("permessage-deflate; client_max_window_bits", "permessage-deflate", false)]
    [InlineData("permessage-deflate; client_no_context_takeover", "permessage-deflate; client_no_context_takeover", false)]
    [InlineData("permessage-deflate; server_max_window_bits=15", "permessage-deflate; server_max_window_bits=15", false)]
    // A client that asks for no context takeover or a smaller window gets the per-message (shared) form.
    [InlineData("permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover", true)]
    [InlineData("permessage-deflate; server_max_window_bits=12", "permessage-deflate; server_no_context_takeover; server_max_window_bits=12", true)]
    public void Per_connection_mode_keeps_context_takeover_unless_the_client_rules_it_out(string offer, string expected, bool noContextTakeover)
    {
        var parameters = PerMessageDeflateNegotiation.Negotiate(offer, WebSocketCompressionMode.PerConnection);
        Assert.NotNull(parameters);
        Assert.Equal(expected, parameters.ToResponseHeader());
        Assert.Equal(noContextTakeover, parameters.ServerNoContextTakeover);
    }
}
