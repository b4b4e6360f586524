using System.Text;
using EmitHub.Core.Channels;
using EmitHub.Net.Api;

namespace EmitHub.Tests.Channels;

public class ChannelRequestsTests
{
    [Theory]
    [InlineData("""{"name":"a",}""", "trailing comma", "line 1, byte 13")]
    [InlineData("", "empty", null)]
    [InlineData("   ", "empty", null)]
    [InlineData("""{"name":"a"}x""", "after the end", "line 1, byte 13")]
    [InlineData("{\n\"name\": tru}", "invalid", "at line 2, byte ")]
    public void A_body_that_is_not_json_gets_a_sentence_for_the_api_user_not_the_parser_developer(string body, string says, string? at)
    {
        Assert.False(ChannelRequests.TryParseCreate(Encoding.UTF8.GetBytes(body), out _, out var error));
        // Found by a new-user test: the parser's own text ("Change the reader options", "isFinalBlock") leaked through.
        Assert.StartsWith("Request body is not valid JSON", error);
        Assert.Contains(says, error, StringComparison.OrdinalIgnoreCase);
        if (at is not null)
        {
            Assert.Contains(at, error);
        }
        Assert.DoesNotContain("reader options", error);
        Assert.DoesNotContain("isFinalBlock", error);
        Assert.DoesNotContain("LineNumber", error);
        Assert.DoesNotContain("in this mode", error);
    }

    [Fact]
    public void The_seed_quick_start_body_parses_with_every_setting()
    {
        var body = """
            {
              "name": "Sistema de Turnos",
              "description": "Canal para llamar turnos en clínica",
              "settings": {
                "max_connections": 100,
                "allow_client_messages": true,
                "persist_messages": false,
                "rate_limit_per_minute": 30
              }
            }
            """;
        Assert.True(ChannelRequests.TryParseCreate(Encoding.UTF8.GetBytes(body), out var request, out var error), error);
        Assert.Equal("Sistema de Turnos", request!.Name);
        Assert.Equal("Canal para llamar turnos en clínica", request.Description);
        Assert.Equal(new ChannelSettingsPatch(100, true, false, 30, null), request.Settings);
    }

    [Theory]
    [InlineData("""{}""", "'name' is required")]
    [InlineData("""{"name":""}""", "must not be empty")]
    [InlineData("""{"name":5}""", "'name' must be a string")]
    [InlineData("""{"name":"a","description":7}""", "'description' must be a string")]
    [InlineData("""{"name":"a","settings":{"max_connections":0}}""", "'settings.max_connections' must be a whole number from 1 to 1000000; got 0")]
    [InlineData("""{"name":"a","settings":{"max_connections":1000001}}""", "from 1 to 1000000")]
    [InlineData("""{"name":"a","settings":{"max_connections":1.5}}""", "got 1.5")]
    [InlineData("""{"name":"a","settings":{"max_connections":"10"}}""", "got \"10\"")]
    [InlineData("""{"name":"a","settings":{"max_connections":99999999999999999999999}}""", "from 1 to 1000000")]
    [InlineData("""{"name":"a","settings":{"replay_last":101}}""", "from 0 to 100")]
    [InlineData("""{"name":"a","settings":{"rate_limit_per_minute":-1}}""", "from 0 to 1000000")]
    [InlineData("""{"name":"a","settings":{"persist_messages":"yes"}}""", "must be true or false")]
    [InlineData("""{"name":"a","settings":[]}""", "'settings' must be an object")]
    [InlineData("""{"name":"a","name":"b"}""", "repeats a member name")]
    [InlineData("""[1]""", "must be a JSON object")]
    [InlineData("""{"name":"a"} {}""", "not valid JSON")]
    [InlineData("""{"name":""", "not valid JSON")]
    public void Invalid_create_bodies_are_refused_with_a_sentence_naming_the_problem(string body, string expected)
    {
        Assert.False(ChannelRequests.TryParseCreate(Encoding.UTF8.GetBytes(body), out _, out var error));
        Assert.Contains(expected, error);
    }

    [Fact]
    public void Names_and_descriptions_are_bounded_in_characters()
    {
        var name200 = new string('ñ', 200);
        Assert.True(ChannelRequests.TryParseCreate(Encoding.UTF8.GetBytes($"{{\"name\":\"{name200}\"}}"), out _, out _));
        Assert.False(ChannelRequests.TryParseCreate(Encoding.UTF8.GetBytes($"{{\"name\":\"{name200}x\"}}"), out _, out var error));
        Assert.Contains("201 characters", error);
        var description = new string('d', 2001);
        Assert.False(ChannelRequests.TryParseCreate(Encoding.UTF8.GetBytes($"{{\"name\":\"a\",\"description\":\"{description}\"}}"), out _, out error));
        Assert.Contains("at most 2000", error);
    }

    [Fact]
    public void Nesting_deeper_than_64_is_refused_and_64_is_accepted()
    {
        static string Nest(int depth) => "{\"name\":\"a\",\"x\":" + new string('[', depth - 1) + new string(']', depth - 1) + "}";
        Assert.True(ChannelRequests.TryParseCreate(Encoding.UTF8.GetBytes(Nest(64)), out _, out var ok), ok);
        Assert.False(ChannelRequests.TryParseCreate(Encoding.UTF8.GetBytes(Nest(65)), out _, out var error));
        Assert.Contains("deeper than 64", error);
    }

    [Fact]
    public void Unknown_fields_are_ignored()
    {
        Assert.True(ChannelRequests.TryParseCreate("""{"name":"a","color":"red","settings":{"foo":1}}"""u8, out var request, out _));
        Assert.Equal("a", request!.Name);
    }

    [Theory]
    [InlineData("""{"content":"A004","message_type":"Broadcast"}""", true)]
    [InlineData("""{"content":"A004"}""", true)]
    [InlineData("""{"content":5}""", false)]
    [InlineData("""{"message_type":"Broadcast"}""", false)]
    [InlineData("""{"content":"a","message_type":3}""", false)]
    [InlineData("""{"content":"A004","message_type":null}""", true)]
    public void Broadcast_bodies_need_a_content_string(string body, bool valid)
    {
        Assert.Equal(valid, ChannelRequests.TryParseBroadcast(Encoding.UTF8.GetBytes(body), out var request, out var error));
        if (valid)
        {
            Assert.Equal("A004", request!.Content);
            Assert.Equal("Broadcast", request.MessageType);
            Assert.True(request.DataJson.IsEmpty);
        }
        else
        {
            Assert.NotNull(error);
        }
    }
}

public class ChannelRequestsRegressionTests
{
    [Theory]
    [InlineData("{\"name\":\"\\ud800\"}")]
    [InlineData("{\"name\":\"a\",\"description\":\"\\udfff\"}")]
    public void An_unpaired_surrogate_escape_is_a_400_sentence_not_a_server_error(string body)
    {
        Assert.False(ChannelRequests.TryParseCreate(System.Text.Encoding.UTF8.GetBytes(body), out _, out var error));
        Assert.Contains("not valid Unicode", error);
    }

    [Fact]
    public void Invalid_utf8_bytes_in_a_string_are_a_400_sentence_not_a_server_error()
    {
        byte[] create = [.. "{\"name\":\""u8, 0xFF, 0xFE, .. "\"}"u8];
        byte[] broadcast = [.. "{\"content\":\""u8, 0xC3, 0x28, .. "\"}"u8];
        Assert.False(ChannelRequests.TryParseCreate(create, out _, out var error));
        Assert.Contains("not valid", error);
        Assert.False(ChannelRequests.TryParseBroadcast(broadcast, out _, out error));
        Assert.Contains("not valid", error);
        Assert.False(ChannelRequests.TryParsePatch("{\"name\":\"\\ud800\"}"u8, out _, out error));
    }
}

public class ChannelNumberRegressionTests
{
    [Theory]
    [InlineData("10.0", 10)]
    [InlineData("1e2", 100)]
    [InlineData("1E1", 10)]
    public void Whole_numbers_written_with_a_fraction_part_or_exponent_are_accepted(string number, int expected)
    {
        Assert.True(ChannelRequests.TryParseCreate(System.Text.Encoding.UTF8.GetBytes("{\"name\":\"a\",\"settings\":{\"max_connections\":" + number + "}}"), out var request, out var error), error);
        Assert.Equal(expected, request!.Settings.MaxConnections);
    }

    [Theory]
    [InlineData("Alert")]
    [InlineData("broadcast")]
    [InlineData("ClientMessage")]
    [InlineData("")]
    public void A_message_type_other_than_Broadcast_is_refused_naming_the_allowed_value(string messageType)
    {
        var body = Encoding.UTF8.GetBytes($$"""{"content":"A004","message_type":"{{messageType}}"}""");
        Assert.False(ChannelRequests.TryParseBroadcast(body, out _, out var error));
        Assert.StartsWith("Field 'message_type' must be \"Broadcast\"", error);
        Assert.Contains($"got \"{messageType}\"", error);
    }
}
