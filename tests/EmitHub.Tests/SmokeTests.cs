namespace EmitHub.Tests;

public class SmokeTests
{
    [Fact]
    public void Default_options_match_the_spec()
    {
        var o = new EmitHub.Core.Configuration.EmitHubOptions();
        Assert.Equal(8080, o.Port);
        Assert.Equal("127.0.0.1", o.Host);
    }
}
