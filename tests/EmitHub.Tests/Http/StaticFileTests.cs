using System.Net;
using System.Text;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Http;

/// <summary>
/// <c>static_dir</c> end to end (issue 12): files at <c>/</c> paths with their content type, ETag/Last-Modified and
/// 304s, HEAD, index.html for a directory and no listing, API routes first, and no way out of the directory — encoded
/// <c>..</c>, <c>%2e%2e</c>, <c>%2f</c>, backslashes, NUL, hidden files and symbolic links pointing outside.
/// </summary>
public sealed class StaticFileTests : IDisposable
{
    private const string Secret = "TOP-SECRET-OUTSIDE-STATIC-DIR";
    private readonly string _base;
    private readonly string _root;

    public StaticFileTests()
    {
        _base = Directory.CreateTempSubdirectory("emithub-static-").FullName;
        _root = Path.Combine(_base, "www");
        Directory.CreateDirectory(_root);
        File.WriteAllText(Path.Combine(_base, "secret.txt"), Secret);
        Directory.CreateDirectory(Path.Combine(_base, "outside"));
        File.WriteAllText(Path.Combine(_base, "outside", "secret.txt"), Secret);

        File.WriteAllText(Path.Combine(_root, "display.html"), "<!DOCTYPE html><title>Sala de espera</title><p>Turno: <b id=t>—</b></p>");
        File.WriteAllText(Path.Combine(_root, "app.js"), "console.log('clínica');");
        File.WriteAllText(Path.Combine(_root, "style.css"), "body{margin:0}");
        File.WriteAllBytes(Path.Combine(_root, "logo.png"), [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, 0, 1, 2]);
        File.WriteAllBytes(Path.Combine(_root, "blob.bin"), [1, 2, 3]);
        File.WriteAllText(Path.Combine(_root, ".env"), Secret);
        File.WriteAllText(Path.Combine(_root, "docs"), "not the docs page");
        File.WriteAllText(Path.Combine(_root, "health"), "not health");
        Directory.CreateDirectory(Path.Combine(_root, "sala"));
        File.WriteAllText(Path.Combine(_root, "sala", "index.html"), "<p>sala index</p>");
        Directory.CreateDirectory(Path.Combine(_root, "empty"));
        File.WriteAllText(Path.Combine(_root, "empty", "listed.txt"), "a file that a listing would show");
        Directory.CreateDirectory(Path.Combine(_root, "api", "v1"));
        File.WriteAllText(Path.Combine(_root, "api", "v1", "channels"), "not the API");
        File.CreateSymbolicLink(Path.Combine(_root, "leak.txt"), Path.Combine(_base, "secret.txt"));
        File.CreateSymbolicLink(Path.Combine(_root, "relative-leak.txt"), "../secret.txt");
        Directory.CreateSymbolicLink(Path.Combine(_root, "outdir"), Path.Combine(_base, "outside"));
        File.CreateSymbolicLink(Path.Combine(_root, "turno.html"), "display.html");
    }

    public void Dispose() => Directory.Delete(_base, recursive: true);

    private Task<TestHubServer> StartAsync() => TestHubServer.StartAsync(o => o.StaticDir = _root);

    private static async Task<RawResponse> RawAsync(TestHubServer hub, string target, string method = "GET", string extra = "")
    {
        using var raw = await hub.ConnectRawAsync();
        await raw.SendAsync($"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n");
        return (await raw.ReadResponseAsync())!;
    }

    [Theory]
    [InlineData("/display.html", "text/html; charset=utf-8")]
    [InlineData("/app.js", "text/javascript; charset=utf-8")]
    [InlineData("/style.css", "text/css; charset=utf-8")]
    [InlineData("/logo.png", "image/png")]
    [InlineData("/blob.bin", "application/octet-stream")]
    [InlineData("/turno.html", "text/html; charset=utf-8")]
    [InlineData("/sal%61/index.html", "text/html; charset=utf-8")]
    public async Task A_file_is_served_with_its_content_type_ETag_and_Last_Modified(string path, string contentType)
    {
        await using var hub = await StartAsync();
        using var response = await hub.Client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(contentType, response.Content.Headers.ContentType!.ToString());
        var file = Path.Combine(_root, Uri.UnescapeDataString(path.TrimStart('/')));
        Assert.Equal(await File.ReadAllBytesAsync(file), await response.Content.ReadAsByteArrayAsync());
        Assert.NotNull(response.Headers.ETag);
        Assert.False(response.Headers.ETag!.IsWeak);
        var modified = new FileInfo(file).LastWriteTimeUtc;
        Assert.Equal(modified.AddTicks(-(modified.Ticks % TimeSpan.TicksPerSecond)), response.Content.Headers.LastModified!.Value.UtcDateTime);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Fact]
    public async Task HEAD_gives_the_headers_without_the_body()
    {
        await using var hub = await StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Head, "/display.html");
        using var response = await hub.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new FileInfo(Path.Combine(_root, "display.html")).Length, response.Content.Headers.ContentLength);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        Assert.NotNull(response.Headers.ETag);
        Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType!.ToString());
    }

    [Fact]
    public async Task A_matching_If_None_Match_or_If_Modified_Since_is_304_and_an_edit_changes_the_ETag()
    {
        await using var hub = await StartAsync();
        var first = await RawAsync(hub, "/display.html");
        var etag = first.Header("ETag")!;
        var lastModified = first.Header("Last-Modified")!;

        var byTag = await RawAsync(hub, "/display.html", extra: $"If-None-Match: \"other\", {etag}\r\n");
        Assert.Equal(304, byTag.StatusCode);
        Assert.Equal("", byTag.Body);
        Assert.Equal(etag, byTag.Header("ETag"));
        Assert.Equal(304, (await RawAsync(hub, "/display.html", extra: $"If-None-Match: W/{etag}\r\n")).StatusCode);
        Assert.Equal(304, (await RawAsync(hub, "/display.html", extra: "If-None-Match: *\r\n")).StatusCode);
        Assert.Equal(304, (await RawAsync(hub, "/display.html", extra: $"If-Modified-Since: {lastModified}\r\n")).StatusCode);
        // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
        Assert.Equal(200, (await RawAsync(hub, "/display.html", extra: $"If-None-Match: \"other\"\r\nIf-Modified-Since: {lastModified}\r\n")).StatusCode);
        Assert.Equal(200, (await RawAsync(hub, "/display.html", extra: "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n")).StatusCode);

        var file = Path.Combine(_root, "display.html");
        await File.WriteAllTextAsync(file, "<p>Turno A005</p>");
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddMinutes(1));
        var edited = await RawAsync(hub, "/display.html", extra: $"If-None-Match: {etag}\r\n");
        Assert.Equal(200, edited.StatusCode);
        Assert.Equal("<p>Turno A005</p>", edited.Body);
        Assert.NotEqual(etag, edited.Header("ETag"));
    }

    [Fact]
    public async Task A_directory_serves_its_index_html_and_is_never_listed()
    {
        await using var hub = await StartAsync();
        var index = await RawAsync(hub, "/sala/");
        Assert.Equal(200, index.StatusCode);
        Assert.Equal("<p>sala index</p>", index.Body);
        var redirect = await RawAsync(hub, "/sala?k=1");
        Assert.Equal(301, redirect.StatusCode);
        Assert.Equal("/sala/?k=1", redirect.Header("Location"));

        foreach (var path in new[] { "/empty/", "/empty", "/outdir/" })
        {
            var listing = await RawAsync(hub, path);
            Assert.True(listing.StatusCode is 404 or 301, $"{path}: {listing.StatusCode}");
            Assert.DoesNotContain("listed.txt", listing.Body);
        }
        Assert.Equal(404, (await RawAsync(hub, "/empty/")).StatusCode);
    }

    [Theory]
    [InlineData("/../secret.txt")]
    [InlineData("/%2e%2e/secret.txt")]
    [InlineData("/%2E%2E/secret.txt")]
    [InlineData("/%2e%2e%2fsecret.txt")]
    [InlineData("/sala/%2e%2e/%2e%2e/secret.txt")]
    [InlineData("/sala/..%2f..%2fsecret.txt")]
    [InlineData("/..%5csecret.txt")]
    [InlineData("/sala%5c..%5c..%5csecret.txt")]
    [InlineData("/.%2e/secret.txt")]
    [InlineData("/%252e%252e/secret.txt")]
    [InlineData("/display.html%00.png")]
    [InlineData("/%00")]
    [InlineData("/leak.txt")]
    [InlineData("/relative-leak.txt")]
    [InlineData("/outdir/secret.txt")]
    [InlineData("/.env")]
    [InlineData("/%2eenv")]
    [InlineData("//secret.txt")]
    [InlineData("/sala//index.html")]
    [InlineData("/%2fsecret.txt")]
    public async Task No_path_leaves_the_directory(string target)
    {
        await using var hub = await StartAsync();
        var response = await RawAsync(hub, target);
        Assert.True(response.StatusCode is 400 or 404, $"{target}: {response.StatusCode}");
        Assert.DoesNotContain(Secret, response.Body);
        Assert.Contains("\"error\"", response.Body);
        // The server is unharmed: the next request on a new connection works.
        Assert.Equal(200, (await RawAsync(hub, "/display.html")).StatusCode);
    }

    [Theory]
    [InlineData("/a\\..\\..\\secret.txt")]
    [InlineData("/%zz")]
    [InlineData("/%e2%28%a1")]
    public async Task Broken_or_backslashed_paths_are_refused_with_a_sentence(string target)
    {
        await using var hub = await StartAsync();
        var response = await RawAsync(hub, target);
        Assert.True(response.StatusCode is 400 or 404, $"{target}: {response.StatusCode}");
        Assert.DoesNotContain(Secret, response.Body);
    }

    [Fact]
    public async Task API_routes_docs_and_the_root_win_over_files()
    {
        await using var hub = await StartAsync();
        Assert.Contains("<h1>EmitHub</h1>", await hub.Client.GetStringAsync("/docs"));
        Assert.Contains("\"healthy\"", await hub.Client.GetStringAsync("/health"));
        Assert.Contains("\"service\":\"emit-hub\"", await hub.Client.GetStringAsync("/"));
        Assert.Equal("[]", await hub.Client.GetStringAsync("/api/v1/channels"));
        Assert.Equal(HttpStatusCode.NotFound, (await hub.Client.GetAsync("/api/v1/nothing.html")).StatusCode);
    }

    [Fact]
    public async Task Only_GET_and_HEAD_read_a_file()
    {
        await using var hub = await StartAsync();
        using var post = await hub.Client.PostAsync("/display.html", new StringContent("x"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        Assert.Contains("HEAD", post.Content.Headers.Allow);
        Assert.Equal(HttpStatusCode.NotFound, (await hub.Client.PostAsync("/missing.html", new StringContent("x"))).StatusCode);
    }

    [Fact]
    public async Task Without_static_dir_no_file_is_served()
    {
        await using var hub = await TestHubServer.StartAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await hub.Client.GetAsync("/display.html")).StatusCode);
    }

    [Fact]
    public async Task A_file_over_the_size_bound_is_refused_with_a_sentence()
    {
        await using (var stream = File.Create(Path.Combine(_root, "big.mp4")))
        {
            stream.SetLength(8 * 1024 * 1024 + 1);
        }
        await using var hub = await StartAsync();
        using var response = await hub.Client.GetAsync("/big.mp4");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("8 MiB", await response.Content.ReadAsStringAsync());
    }
}
