namespace EmitHub.Tests.Infrastructure;

/// <summary>
/// An xunit class fixture holding one <see cref="ChromiumBrowser"/> for all tests of a class
/// (<c>IClassFixture&lt;ChromiumFixture&gt;</c>); each test opens its own <see cref="ChromiumPage"/>.
/// </summary>
public sealed class ChromiumFixture : IAsyncLifetime
{
    private ChromiumBrowser? _browser;

    /// <summary>The running browser.</summary>
    public ChromiumBrowser Browser => _browser ?? throw new InvalidOperationException("The browser has not started.");

    /// <summary>Where tests write screenshots for a person to look at: <c>tests/TestResults/screenshots</c>.</summary>
    public static string ScreenshotDirectory
    {
        get
        {
            var directory = Path.Combine(Path.GetDirectoryName(ClientProcess.ClientsDirectory)!, "TestResults", "screenshots");
            Directory.CreateDirectory(directory);
            return directory;
        }
    }

    /// <inheritdoc />
    public async Task InitializeAsync() => _browser = await ChromiumBrowser.LaunchAsync();

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_browser != null)
        {
            await _browser.DisposeAsync();
        }
    }
}
