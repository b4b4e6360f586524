using System.Text;
using EmitHub.Net.WebSockets;

namespace EmitHub.Tests.WebSockets;

public class Utf8ValidatorTests
{
    private const string Mixed = "aé€𝄞z\u07FF\uFFFD\U0010FFFF";

    [Fact]
    public void Valid_text_is_accepted_split_at_every_byte_pair_of_positions()
    {
        var bytes = Encoding.UTF8.GetBytes(Mixed);
        for (var i = 0; i <= bytes.Length; i++)
        {
            for (var j = i; j <= bytes.Length; j++)
            {
                var validator = new Utf8Validator();
                Assert.True(validator.TryAppend(bytes.AsSpan(0, i)));
                Assert.True(validator.TryAppend(bytes.AsSpan(i, j - i)));
                Assert.True(validator.TryAppend(bytes.AsSpan(j)));
                Assert.True(validator.IsComplete);
            }
        }
    }

    [Fact]
    public void Valid_text_one_byte_at_a_time_is_complete_only_on_code_point_boundaries()
    {
        var bytes = Encoding.UTF8.GetBytes("€");
        var validator = new Utf8Validator();
        Assert.True(validator.TryAppend(bytes.AsSpan(0, 1)));
        Assert.False(validator.IsComplete);
        Assert.True(validator.TryAppend(bytes.AsSpan(1, 1)));
        Assert.False(validator.IsComplete);
        Assert.True(validator.TryAppend(bytes.AsSpan(2, 1)));
        Assert.True(validator.IsComplete);
    }

    [Theory]
    [InlineData("E080")]     // overlong 3-byte prefix
    [InlineData("EDA0")]     // surrogate prefix
    [InlineData("F490")]     // above U+10FFFF prefix
    [InlineData("F08F")]     // overlong 4-byte prefix
    [InlineData("C1")]       // never a valid lead
    [InlineData("F5")]
    [InlineData("80")]       // continuation without lead
    [InlineData("C3C3")]     // lead where a continuation is needed
    public void Prefix_that_can_never_become_valid_fails_at_once(string hex)
    {
        var bytes = Convert.FromHexString(hex);
        // Whole and one byte at a time: the verdict comes without waiting for more bytes.
        var whole = new Utf8Validator();
        Assert.False(whole.TryAppend(bytes));

        var validator = new Utf8Validator();
        var failed = false;
        foreach (var b in bytes)
        {
            if (!validator.TryAppend([b]))
            {
                failed = true;
                break;
            }
        }
        Assert.True(failed);
    }

    [Theory]
    [InlineData("E2")]
    [InlineData("E282")]
    [InlineData("F09D")]
    [InlineData("F09D84")]
    [InlineData("61C3")]
    public void Valid_prefix_is_accepted_but_incomplete(string hex)
    {
        var validator = new Utf8Validator();
        Assert.True(validator.TryAppend(Convert.FromHexString(hex)));
        Assert.False(validator.IsComplete);
    }

    [Fact]
    public void Long_ascii_with_a_bad_byte_deep_inside_fails()
    {
        var bytes = Encoding.ASCII.GetBytes(new string('a', 70_000));
        bytes[65_000] = 0xFF;
        var validator = new Utf8Validator();
        Assert.False(validator.TryAppend(bytes));
    }
}
