using System.Net;
using System.Text;

namespace EmitHub.Tests.Browser;

/// <summary>
/// Serves test pages from <c>http://127.0.0.1:&lt;free port&gt;/</c> — another origin than the hub, as a display page
/// on a web server would be (the hub's default CORS list, <c>localhost</c>, allows it). Pages are registered by path.
/// </summary>
internal sealed class TestPageServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Dictionary<string, string> _pages = new(StringComparer.Ordinal);
    private readonly Task _loop;

    public TestPageServer()
    {
        for (var attempt = 0; ; attempt++)
        {
            Port = EmitHub.Tests.Config.EmitHubProcess.FreePort();
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            try
            {
                _listener.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 3)
            {
            }
        }
        _loop = Task.Run(ServeAsync);
    }

    public int Port { get; }

    public string Origin => $"http://127.0.0.1:{Port}";

    /// <summary>Registers <paramref name="html"/> at <paramref name="path"/> and returns the page's URL.</summary>
    public string Add(string path, string html)
    {
        lock (_pages)
        {
            _pages[path] = html;
        }
        return Origin + path;
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            string? html;
            lock (_pages)
            {
                _pages.TryGetValue(context.Request.Url!.AbsolutePath, out html);
            }
            var body = Encoding.UTF8.GetBytes(html ?? "not found");
            context.Response.StatusCode = html is null ? 404 : 200;
            context.Response.ContentType = "text/html; charset=utf-8";
            context.Response.ContentLength64 = body.Length;
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}
