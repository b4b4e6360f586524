using EmitHub.Net.Api;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Browser;

/// <summary>
/// emithub.js's reconnect logic with a fake WebSocket and fake timers (<c>tests/clients/emithub_js_unit.mjs</c>, run
/// by Node on exactly the module the hub serves): backoff ceilings and jitter, resume without duplicates,
/// <c>recovered: false</c>, silence detection, a fresh token per connection, channel status, and a final close().
/// Timing-sensitive behaviour is checked here, where time is fake; the Chromium tests check it on a real hub.
/// </summary>
public class EmitHubJsUnitTests
{
    [Fact]
    public async Task The_served_module_passes_its_reconnect_checks_under_fake_time()
    {
        var module = Path.Combine(Path.GetTempPath(), $"emithub-{Guid.NewGuid():N}.mjs");
        await File.WriteAllTextAsync(module, BrowserAssets.ModuleSource);
        try
        {
            using var node = ClientProcess.Start("node", "emithub_js_unit.mjs", module);
            var exit = await node.WaitForExitAsync();
            Assert.True(exit == 0, "node emithub_js_unit.mjs failed:\n" + node.Output);
            Assert.Contains("all passed", node.Output);
            Assert.Equal(9, node.Output.Split('\n').Count(line => line.StartsWith("ok ", StringComparison.Ordinal)));
        }
        finally
        {
            File.Delete(module);
        }
    }
}
