// KestrelHub: the ASP.NET Core peer EmitHub is benchmarked against (bench/run-bench.sh).
// Same wire subset as EmitHub (SPEC §2-§3): create/get/start channel, broadcast, /health, and the
// WebSocket envelopes `connected`, `denied` and `broadcast`. Written as a careful ASP.NET engineer
// would: minimal APIs, UseWebSockets, a connection registry per channel, one bounded outbound
// queue + send loop per connection (frames never interleave), each broadcast serialized once.
using System.Net;
using KestrelHub;

var builder = WebApplication.CreateSlimBuilder(args);

// Same knobs the bench gives EmitHub: KESTREL_HUB_HOST / KESTREL_HUB_PORT (default 127.0.0.1:8081).
var host = Environment.GetEnvironmentVariable("KESTREL_HUB_HOST") ?? "127.0.0.1";
var port = int.TryParse(Environment.GetEnvironmentVariable("KESTREL_HUB_PORT"), out var p) ? p : 8081;
builder.WebHost.ConfigureKestrel(k =>
{
    k.Listen(IPAddress.Parse(host), port);
    // Thousands of long-lived sockets are the point of the app; Kestrel's defaults already allow
    // unlimited connections, but the backlog is raised so a burst of connects is not dropped.
    k.Limits.MaxConcurrentConnections = null;
    k.Limits.MaxConcurrentUpgradedConnections = null;
    k.AddServerHeader = false;
});
builder.WebHost.UseSockets(o => o.Backlog = 4096);
builder.Logging.ClearProviders();
builder.Logging.AddConsole();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.ConfigureHttpJsonOptions(o =>
{
    o.SerializerOptions.TypeInfoResolverChain.Insert(0, HubJsonContext.Default);
    o.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower;
});
builder.Services.AddSingleton<Hub>();

var app = builder.Build();
app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });

app.MapGet("/health", () => new HealthResponse("healthy", "kestrel-hub", "0.1.0", DateTime.UtcNow));
app.MapGet("/api/v1/health", () => new HealthResponse("healthy", "kestrel-hub", "0.1.0", DateTime.UtcNow));

var api = app.MapGroup("/api/v1/channels");
api.MapPost("/", (CreateChannelRequest req, Hub hub) =>
{
    if (string.IsNullOrEmpty(req.Name) || req.Name.Length > 200)
    {
        return Results.BadRequest(new ErrorResponse("name is required (1-200 characters).", "invalid_name"));
    }
    var ch = hub.Create(req);
    return Results.Created($"/api/v1/channels/{ch.Id}", ch.Snapshot());
});
api.MapGet("/", (Hub hub) => hub.List());
api.MapGet("/{id:guid}", (Guid id, Hub hub) =>
    hub.Get(id) is { } ch ? Results.Ok(ch.Snapshot()) : NotFound());
api.MapPut("/{id:guid}/start", (Guid id, Hub hub) =>
{
    if (hub.Get(id) is not { } ch)
    {
        return NotFound();
    }
    ch.Start();
    return Results.Ok(ch.Snapshot());
});
api.MapPost("/{id:guid}/broadcast", (Guid id, BroadcastRequest req, Hub hub) =>
{
    if (hub.Get(id) is not { } ch)
    {
        return NotFound();
    }
    if (req.Content is null)
    {
        return Results.BadRequest(new ErrorResponse("content must be a string.", "invalid_content"));
    }
    if (ch.Status != ChannelStatus.Active)
    {
        return Results.Conflict(new ErrorResponse("Channel is not active.", "channel_not_active"));
    }
    return Results.Ok(ch.Broadcast(req.Content));
});
app.Map("/api/v1/channels/{id:guid}/ws", async (HttpContext ctx, Guid id, Hub hub) =>
{
    if (!ctx.WebSockets.IsWebSocketRequest)
    {
        ctx.Response.StatusCode = StatusCodes.Status400BadRequest;
        return;
    }
    if (hub.Get(id) is not { } ch)
    {
        ctx.Response.StatusCode = StatusCodes.Status404NotFound;
        return;
    }
    using var ws = await ctx.WebSockets.AcceptWebSocketAsync();
    await ch.RunConnectionAsync(ws, ctx.RequestAborted);
});

app.Run();

static IResult NotFound() => Results.NotFound(new ErrorResponse("Channel not found.", "channel_not_found"));
