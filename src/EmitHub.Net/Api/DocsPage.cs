namespace EmitHub.Net.Api;

/// <summary>The self-contained <c>/docs</c> page (no external assets): every endpoint, envelope, setting and
/// environment variable, with copy-paste curl and JavaScript examples.</summary>
internal static class DocsPage
{
    public const string Html = """
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>EmitHub API</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1040px;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1d2330}
h1{margin-bottom:0}h2{border-bottom:1px solid #d8dde6;padding-bottom:.3rem;margin-top:2.5rem}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
pre{background:#f4f6fa;border:1px solid #d8dde6;border-radius:6px;padding:.8rem;overflow-x:auto}
/* Tokens (paths, keys, variable names) never break inside: a cell wraps only at spaces, so a column is at least as
   wide as its longest token; a table wider than the page scrolls inside .t, never the page. */
.t{overflow-x:auto;margin:.5rem 0}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #d8dde6;padding:.35rem .5rem;text-align:left;vertical-align:top}
td.m,td code{white-space:nowrap}
th{background:#f4f6fa}.m{font-weight:600;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
nav a{margin-right:1rem;display:inline-block}
/* A phone: each row becomes a card whose first cell is its heading; the column names move into the cells. */
@media (max-width:640px){
body{margin:1rem auto}
.t table,.t tbody,.t tr,.t td{display:block;width:auto}
.t tr:first-child{display:none}
.t tr{border:1px solid #d8dde6;border-radius:6px;margin:.6rem 0;padding:.2rem 0}
.t td{border:none;padding:.15rem .6rem}
.t td.m{white-space:normal}
.t td:empty{display:none}
.t td::before{color:#5a6475}
.rest td:nth-child(2)::before{content:"Success: "}.rest td:nth-child(3)::before{content:"Failures: "}
.envelopes td:nth-child(2)::before{content:"When: "}.envelopes td:nth-child(3)::before{content:"Message, data: "}
.settings td:nth-child(2)::before{content:"Range: "}.settings td:nth-child(3)::before,.config td:nth-child(2)::before{content:"Default: "}
.settings td:nth-child(4)::before,.config td:nth-child(3)::before{content:"Meaning: "}.limits td:nth-child(2)::before{content:"Answer: "}.cluster td:nth-child(2)::before{content:"In a cluster: "}.tokens td:nth-child(2)::before{content:"Answer: "}.metrics td:nth-child(2)::before{content:"Meaning: "}.metrics td.m{font-size:.8em}
}
</style>
</head>
<body>
<h1>EmitHub</h1>
<p>Self-hosted real-time broadcasting hub. Create <b>channels</b> over REST, start / pause / stop them, broadcast
messages; every WebSocket client of a channel receives each message the moment it is published.</p>
<nav><a href="#rest">REST API</a><a href="#errors">Errors</a><a href="#ws">WebSocket</a><a href="#envelopes">Envelopes</a>
<a href="#static">Static pages</a><a href="#settings">Channel settings</a><a href="#client">emithub.js</a><a href="#private">Private channels</a><a href="#console">Console</a><a href="#config">Configuration</a><a href="#env">Environment</a><a href="#cluster">Cluster</a><a href="#limits">Limits</a>
<a href="#metrics">Metrics</a><a href="#tls">TLS</a><a href="#deploy">Deploy</a></nav>

<h2 id="quick">Quick start</h2>
<pre>curl -X POST http://localhost:8080/api/v1/channels \
  -H "Content-Type: application/json" \
  -d '{"name": "Sistema de Turnos", "description": "Canal para llamar turnos en clínica",
       "settings": {"max_connections": 100, "allow_client_messages": true, "persist_messages": false, "rate_limit_per_minute": 30}}'

curl -X PUT http://localhost:8080/api/v1/channels/CHANNEL_ID/start

curl -X POST http://localhost:8080/api/v1/channels/CHANNEL_ID/broadcast \
  -H "Content-Type: application/json" \
  -d '{"content": "A004", "message_type": "Broadcast"}'</pre>
<pre>// Browser or Node 22+. EmitHub always closes cleanly (1001 on stop, delete or restart; 1008 while a channel is
// not active), so reconnect after ANY close, not only after unclean ones, with a growing delay.
const channelId = 'CHANNEL_ID';
function connect(delay = 1000) {
  const ws = new WebSocket(`ws://localhost:8080/api/v1/channels/${channelId}/ws`);
  ws.onopen = () =&gt; {
    delay = 1000;                        // connected: the next outage starts again at 1 s
    ws.send('Pantalla de sala de espera conectada'); // send only once open (relayed if allow_client_messages)
  };
  ws.onmessage = (event) =&gt; {
    const envelope = JSON.parse(event.data);
    if (envelope.status === 'broadcast') console.log('Now serving', envelope.message, envelope.sequence);
  };
  ws.onclose = () =&gt; setTimeout(() =&gt; connect(Math.min(delay * 2, 30000)), delay);
}
connect();</pre>
<p>When an API key is configured add <code>-H "Authorization: Bearer $EMIT_HUB_API_KEY"</code> to every
<code>/api/v1/channels…</code> call (not to the WebSocket URL).</p>

<h2 id="rest">REST API (base <code>/api/v1</code>)</h2>
<p>Bodies are JSON: send <code>Content-Type: application/json</code> (parameters allowed; a <code>charset</code>, if
given, must be <code>utf-8</code>). A body with no <code>Content-Type</code>, or with curl's default
<code>application/x-www-form-urlencoded</code> (plain <code>curl -d '{…}'</code>), is read as JSON too when the request has no
<code>Origin</code> (curl, scripts) or an origin in <code>[cors] allowed_origins</code>; if it is not JSON, the 400 says to send
<code>Content-Type: application/json</code>. From any other origin such a body is 403 <code>origin_not_allowed</code>: those are
the types a web page can post cross-site without a CORS preflight. Any other media type is 415. Unknown fields are
ignored; a field of the wrong type, a fraction, or a value out of range is 400.</p>
<div class="t"><table class="rest">
<tr><th>Method, path</th><th>Success</th><th>Failures</th></tr>
<tr><td class="m">POST /channels</td><td>201, channel, <code>Location</code> header</td><td>400 invalid JSON, <code>name</code> missing/empty/over 200 chars, description over 2000, setting out of range; 401; 403 untyped body from a disallowed origin; 409 <code>max_channels_reached</code> when the server already holds <code>max_channels</code> channels; 413 body over limit; 415 other media type</td></tr>
<tr><td class="m">GET /channels</td><td>200, array of channels, oldest first</td><td>401</td></tr>
<tr><td class="m">GET /channels/{id}</td><td>200, channel</td><td>404 unknown or malformed id</td></tr>
<tr><td class="m">PATCH /channels/{id}</td><td>200, channel; only the fields present change (inside <code>settings</code> only the keys present)</td><td>400, 404, 415</td></tr>
<tr><td class="m">DELETE /channels/{id}</td><td>204; its clients get <code>stopped</code> and close 1001</td><td>404</td></tr>
<tr><td class="m">PUT /channels/{id}/start</td><td>200, channel (<code>Active</code>); from Created, Paused or Stopped; idempotent</td><td>404</td></tr>
<tr><td class="m">PUT /channels/{id}/pause</td><td>200, channel (<code>Paused</code>)</td><td>404; 409 if Created or Stopped</td></tr>
<tr><td class="m">PUT /channels/{id}/stop</td><td>200, channel (<code>Stopped</code>); clients get close 1001</td><td>404; 409 if Created</td></tr>
<tr><td class="m">POST /channels/{id}/broadcast</td><td>200, <code>{"sequence": n,</code> <code>"recipients": k,</code> <code>"timestamp": t}</code></td><td>400 no <code>content</code> string, or a <code>message_type</code> other than <code>"Broadcast"</code>; 404; 409 channel not Active; 413 content over <code>message_size_limit</code>; 429 rate limit with <code>Retry-After</code> seconds; 503 <code>store_busy</code> with <code>Retry-After</code> (persisting channel, disk behind: nothing stored, retry); 503 <code>store_unavailable</code> with <code>sequence</code> and <code>timestamp</code> (commit did not complete; see <a href="#durability">Durability</a>)</td></tr>
<tr><td class="m">GET /channels/{id}/messages</td><td><code>?after=SEQ&amp;limit=N</code>: 200, <code>{"messages": [envelope…],</code> <code>"next_after": SEQ}</code> oldest first; <code>after</code> default 0, <code>limit</code> default 100, at most 1000; a page also stops at 16 MiB of envelopes (continue from <code>next_after</code>)</td><td>400 bad query; 404; 409 channel does not persist messages</td></tr>
<tr><td class="m">GET /channels/{id}/ws</td><td>101 WebSocket (see below)</td><td>404 unknown channel; 426 with <code>Upgrade: websocket</code> when that header is missing or <code>Sec-WebSocket-Version</code> is not 13; 405 other methods; 403 origin not allowed; private channel: 401 no valid token, 403 token for other channels</td></tr>
<tr><td class="m">POST /channels/{id}/tokens</td><td>200 <code>{"token",</code> <code>"channel_id",</code> <code>"sub",</code> <code>"expires_at"}</code> (<a href="#private">private channels</a>)</td><td>400 bad <code>sub</code> or <code>ttl_seconds</code>; 404; 409 no <code>[auth] token_secret</code></td></tr>
<tr><td class="m">GET /health, GET /api/v1/health</td><td>200 <code>{"status": "healthy",</code> <code>"service": "emit-hub",</code> <code>"version": …,</code> <code>"timestamp": …}</code></td><td></td></tr>
<tr><td class="m">GET /ready, GET /api/v1/ready</td><td>200 <code>{"status": "ready",</code> <code>"checks": {"database": "ok",</code> <code>"memory": "ok"}}</code></td><td>503 with the failing check; 200 with <code>"status": "degraded"</code>, <code>"database": "data_loss"</code> and <code>"losses": [sentence…]</code> after a recovery that found damage inside committed data (see <a href="#durability">Durability</a>)</td></tr>
<tr><td class="m">GET /</td><td>200 <code>{"service": "emit-hub",</code> <code>"version": …,</code> <code>"docs": "/docs",</code> <code>"health": "/health",</code> <code>"api": "/api/v1"}</code></td><td></td></tr>
<tr><td class="m">GET /docs</td><td>this page</td><td></td></tr>
<tr><td class="m">GET /metrics</td><td>200, Prometheus text format 0.0.4 (see <a href="#metrics">Metrics</a>)</td><td>401 without the API key when one is set</td></tr>
</table></div>
<p>Unknown paths are 404; a known path with a wrong method is 405 with an <code>Allow</code> header.</p>
<h3>Broadcast body</h3>
<p><code>{"content": "A004", "message_type": "Broadcast", "data": {"room": 3}}</code>: <code>content</code> (string, required)
becomes the envelope's <code>message</code>; <code>data</code> (any JSON, optional) its <code>data</code>.
<code>message_type</code> may be left out; if given it must be <code>"Broadcast"</code> (the seed's only value: every REST
broadcast reaches clients as a <code>broadcast</code> envelope), and any other value is 400 naming the allowed one, so that
no sender believes it chose a behaviour the hub does not have. To tell kinds of messages apart, put them in
<code>data</code>, e.g. <code>{"kind": "alert"}</code>.</p>
<h3>Channel JSON</h3>
<pre>{
  "id": "550e8400-e29b-41d4-a716-446655440000",
  "name": "Sistema de Turnos",
  "description": "Canal para llamar turnos en clínica",
  "status": "Created",
  "created_at": "2024-06-01T10:35:00Z",
  "updated_at": "2024-06-01T10:35:00Z",
  "settings": {"max_connections": 100, "allow_client_messages": true, "persist_messages": false,
               "rate_limit_per_minute": 30, "replay_last": 0},
  "stats": {"connections": 0, "messages_sent": 0}
}</pre>
<h3>More examples</h3>
<pre>curl http://localhost:8080/api/v1/channels
curl http://localhost:8080/api/v1/channels/CHANNEL_ID
curl -X PATCH http://localhost:8080/api/v1/channels/CHANNEL_ID -H "Content-Type: application/json" \
  -d '{"description": null, "settings": {"persist_messages": true, "replay_last": 1}}'
curl -X POST http://localhost:8080/api/v1/channels/CHANNEL_ID/broadcast -H "Content-Type: application/json" \
  -d '{"content": "A005", "message_type": "Broadcast", "data": {"room": 3}}'
curl "http://localhost:8080/api/v1/channels/CHANNEL_ID/messages?after=0&amp;limit=100"
curl -X PUT http://localhost:8080/api/v1/channels/CHANNEL_ID/pause
curl -X PUT http://localhost:8080/api/v1/channels/CHANNEL_ID/start
curl -X PUT http://localhost:8080/api/v1/channels/CHANNEL_ID/stop
curl -X DELETE http://localhost:8080/api/v1/channels/CHANNEL_ID
curl http://localhost:8080/api/v1/health</pre>
<pre>// Admin calls from JavaScript
const base = 'http://localhost:8080/api/v1';
const headers = {'Content-Type': 'application/json'}; // add Authorization: 'Bearer KEY' when configured
const channel = await (await fetch(`${base}/channels`, {method: 'POST', headers,
  body: JSON.stringify({name: 'Consultorio Cardiólogo', settings: {persist_messages: true, rate_limit_per_minute: 30}})})).json();
await fetch(`${base}/channels/${channel.id}/start`, {method: 'PUT', headers});
const ack = await (await fetch(`${base}/channels/${channel.id}/broadcast`, {method: 'POST', headers,
  body: JSON.stringify({content: 'A015', message_type: 'Broadcast'})})).json();
console.log(ack.sequence, ack.recipients);</pre>

<h2 id="static">Static pages (<code>static_dir</code>)</h2>
<p>With <code>static_dir = "www"</code> (or <code>EMIT_HUB_STATIC_DIR=www</code>) the hub serves the files under that directory
at <code>/</code> paths: <code>www/display.html</code> at <code>http://localhost:8080/display.html</code>. A page served this way
is same-origin with the API, so a relative <code>fetch('/api/v1/…')</code> (the seed's dashboard) works and its origin is
allowed by the default <code>"localhost"</code> only when you open it as <code>localhost</code> / <code>127.0.0.1</code>; from other
machines add the hub's own origin (e.g. <code>"http://hub.clinica.lan:8080"</code>) to <code>allowed_origins</code>.</p>
<ul>
<li>API routes, <code>/docs</code>, <code>/health</code>, <code>/ready</code> and <code>/</code> (service info) win over files; nothing under
<code>/api/</code> is ever a file.</li>
<li>Content types from the extension (html, css, js, json, svg, png, jpg, webp, ico, woff2, mp3, ogg, wav, mp4…; others
<code>application/octet-stream</code>), <code>X-Content-Type-Options: nosniff</code>, a strong <code>ETag</code> and
<code>Last-Modified</code>; <code>If-None-Match</code> / <code>If-Modified-Since</code> answer 304; <code>Cache-Control: no-cache</code>
so an edited page reaches the screens on their next load. GET and HEAD only; files up to 8 MiB.</li>
<li>A directory serves its <code>index.html</code> (<code>/sala</code> redirects to <code>/sala/</code>); there is no listing.</li>
<li>Nothing outside the directory: <code>..</code> in any spelling (<code>%2e%2e</code>, <code>%2f</code>, backslashes), NUL, empty
segments and hidden files (<code>.env</code>) are refused, and symbolic links are followed only when their target stays
inside the directory.</li>
</ul>

<h2 id="errors">Errors</h2>
<p>Every error is <code>{"error": "&lt;human sentence&gt;", "code": "&lt;snake_case_code&gt;"}</code>, for example
<code>{"error":"Channel 7f0c… does not exist.","code":"channel_not_found"}</code>.</p>
<h3>Authentication</h3>
<p>With <code>api_key</code> (or <code>EMIT_HUB_API_KEY</code>) set, every <code>/api/v1/channels…</code> request except the
WebSocket upgrade needs <code>Authorization: Bearer &lt;key&gt;</code>; otherwise 401. Health, ready, <code>/</code> and
<code>/docs</code> stay open. The key is compared in constant time.</p>
<h3>CORS</h3>
<p><code>[cors] allowed_origins</code> lists origins; <code>"*"</code> allows any; the default <code>"localhost"</code> allows
<code>http://localhost</code> and <code>http://127.0.0.1</code> on any port. Preflight <code>OPTIONS</code> is answered 204 with
<code>allowed_methods</code>, <code>allowed_headers</code> and <code>max_age</code> and never needs the key. A disallowed origin gets
no <code>Access-Control-Allow-*</code> headers; <code>Vary: Origin</code> is sent whenever the answer depends on the origin.</p>
<p><b>Kiosk displays opened from a file</b> (<code>file:///…/display.html</code>) send <code>Origin: null</code>: add
<code>"null"</code> to <code>allowed_origins</code> (or <code>EMIT_HUB_CORS_ORIGINS=localhost,null</code>). Sandboxed frames and
<code>data:</code> pages send <code>null</code> too, so on a hub reachable from other machines prefer serving the page from the hub itself
(<a href="#static"><code>static_dir</code></a>). A WebSocket refused for its origin (403) is logged at <code>info</code>, once a minute per
origin, naming this setting.</p>

<h2 id="ws">WebSocket <code>GET /api/v1/channels/{id}/ws</code></h2>
<p>RFC 6455 over HTTP/1.1: <code>Upgrade: websocket</code>, <code>Connection: Upgrade</code>, <code>Sec-WebSocket-Version: 13</code>,
<code>Sec-WebSocket-Key</code>. Every server message is one text frame holding an envelope. Options:
<code>?after=SEQ</code> (with <code>&amp;epoch=E</code>) replays stored messages after SEQ on persisting channels, then live ones,
without gaps or duplicates. Client text frames are relayed as <code>client_message</code> when the channel allows it.
Binary messages close 1003; invalid UTF-8 1007; messages over the limit 1009 (sizes are exact payload bytes; a
fragmented message may also have at most <code>max_message_fragments</code> frames); protocol errors 1002.
A message must arrive whole within <code>connection_timeout</code> of its first frame (else 1008), and all unfinished
messages together may hold at most <code>max_partial_message_bytes</code> (past it the connection holding the most is
closed 1009).
The server pings every <code>ping_interval</code> s; no pong within <code>pong_timeout</code> s closes 1001. Every client
ping is answered with its own pong, in order; at most 16 pongs wait at once, and past that a newer ping replaces the
newest waiting one, so a ping flood gets no unbounded queue. A client that
does not read past <code>max_pending_bytes</code> is closed 1008 "slow consumer".</p>
<pre>// Follows a channel across any close (EmitHub closes cleanly: reconnect always), with backoff, resuming after the
// last sequence seen: on a persisting channel nothing is missed; recovered === false says to refetch your state.
function follow(channelId, onEnvelope) {
  let last = 0, epoch = '', delay = 1000;
  (function open() {
    const url = new URL(`ws://localhost:8080/api/v1/channels/${channelId}/ws`);
    if (last) { url.searchParams.set('after', last); url.searchParams.set('epoch', epoch); }
    const ws = new WebSocket(url);
    ws.onopen = () =&gt; { delay = 1000; };
    ws.onmessage = (e) =&gt; {
      const env = JSON.parse(e.data);
      if (env.status === 'connected') epoch = env.data.epoch;
      if (env.sequence) last = env.sequence;
      onEnvelope(env);
    };
    ws.onclose = () =&gt; { setTimeout(open, delay); delay = Math.min(delay * 2, 30000); };
  })();
}
follow('CHANNEL_ID', (env) =&gt; console.log(env.status, env.message));</pre>
<pre>python3 -m websockets ws://localhost:8080/api/v1/channels/CHANNEL_ID/ws</pre>

<h3 id="compression">Compression (permessage-deflate, RFC 7692)</h3>
<p>Clients that offer <code>permessage-deflate</code> (browsers, python-websockets, Node <code>ws</code>, .NET
<code>ClientWebSocket</code> with <code>DangerousDeflateOptions</code>) get compressed frames; nothing to configure on the
client. With <code>[websocket] compression = "shared"</code> (the default) the server answers
<code>permessage-deflate; server_no_context_takeover</code> and compresses each broadcast <em>once</em>; every client that
negotiated it receives that same compressed frame (a 1.3 KB dashboard envelope goes out as about 390 bytes, for no
CPU per client). <code>"per_connection"</code> keeps a compressor per connection (about 180 bytes for the same envelope
thanks to context takeover, but ~100 µs of CPU per delivery and ~230 KiB per connection); <code>"off"</code> declines.
Envelopes under 256 bytes always go uncompressed. Client messages may be compressed, with or without
<code>client_no_context_takeover</code>; their inflated size is held to <code>message_size_limit</code> (a deflate bomb is
closed 1009), invalid DEFLATE data 1007, RSV1 on a control or continuation frame or without negotiation 1002.
An offer with an unknown or invalid parameter (window bits outside 8-15, a repeated parameter) is declined, not refused:
the next offer is tried, else the connection runs uncompressed.</p>

<h2 id="multiplex">One socket for many channels <code>GET /api/v1/ws</code></h2>
<p>A dashboard that shows 20 channels needs one WebSocket, not 20. Open <code>ws://localhost:8080/api/v1/ws</code> and send
operations as JSON text messages; every envelope you receive carries its <code>channel_id</code>:</p>
<pre>{"op":"subscribe","channel":"CHANNEL_ID"}                                  → connected (or denied) for that channel
{"op":"subscribe","channel":"CHANNEL_ID","after":41,"epoch":"E"}          → connected, the missed messages, then live ones
{"op":"subscribe","channel":"PRIVATE_ID","token":"&lt;jwt&gt;"}                  → a private channel needs its token
{"op":"unsubscribe","channel":"CHANNEL_ID"}                                → unsubscribed
{"op":"publish","channel":"CHANNEL_ID","message":"hola"}                   → client_message, where the channel allows it</pre>
<p>Each subscription behaves as its own channel WebSocket (<code>replay_last</code>, recovery, <code>paused</code>,
<code>resumed</code>, rate limits), but <code>denied</code> (not active, full, no valid token) and <code>stopped</code> end only
that channel's subscription: the socket stays open. A bad operation gets an <code>error</code> envelope (its
<code>channel_id</code> null when no channel applies). At most <code>[websocket] max_subscriptions</code> channels (default 100)
per socket; <code>max_pending_bytes</code> and the slow-consumer rule cover the socket as a whole.</p>
<pre>const ws = new WebSocket('ws://localhost:8080/api/v1/ws');
ws.onopen = () =&gt; ids.forEach((id) =&gt; ws.send(JSON.stringify({op: 'subscribe', channel: id})));
ws.onmessage = (e) =&gt; { const env = JSON.parse(e.data); render(env.channel_id, env); };</pre>

<h2 id="sse">Server-Sent Events <code>GET /api/v1/channels/{id}/events</code></h2>
<p>The same channel as a <code>text/event-stream</code>, for <code>curl -N</code>, the browser's <code>EventSource</code> and
networks that break WebSockets. Each envelope is one event: <code>id:</code> = its <code>sequence</code> (on
<code>broadcast</code> and <code>client_message</code>), <code>event:</code> = its <code>status</code>, <code>data:</code> = the
envelope JSON, exactly as a WebSocket client gets it. To resume, send <code>Last-Event-ID: SEQ</code> (EventSource does it
by itself when it reconnects) or <code>?after=SEQ</code> (with <code>&amp;epoch=</code>): on a persisting channel every message
after SEQ comes first, then live ones, with no gap and no duplicate. A comment line <code>: keepalive</code> is sent after
<code>ping_interval</code> seconds of silence. Same rules as the WebSocket: Origin allow-list (403), private channels need
<code>?token=</code> (or <code>Authorization: Bearer &lt;token&gt;</code>; 401/403), <code>max_pending_bytes</code> (a client
that does not read is cut as a slow consumer), <code>denied</code>/<code>stopped</code> end the stream after that event.
No API key is needed (EventSource cannot send one). An <code>Accept</code> that excludes <code>text/event-stream</code> is 406.</p>
<pre>curl -N http://localhost:8080/api/v1/channels/CHANNEL_ID/events
curl -N -H 'Last-Event-ID: 41' http://localhost:8080/api/v1/channels/CHANNEL_ID/events</pre>
<pre>const es = new EventSource(`http://localhost:8080/api/v1/channels/${channelId}/events`);
es.addEventListener('broadcast', (e) =&gt; console.log(e.lastEventId, JSON.parse(e.data).message));</pre>

<h2 id="envelopes">Envelopes</h2>
<p><code>{"status", "message", "channel_id", "timestamp", "data"}</code>, plus <code>"sequence"</code> on
<code>broadcast</code> and <code>client_message</code> (per channel, from 1, no gaps).</p>
<div class="t"><table class="envelopes">
<tr><th>status</th><th>when</th><th>message / data</th></tr>
<tr><td class="m">connected</td><td>channel Active and not full</td><td>"Connected to channel: &lt;name&gt;"; data = {channel, connection_id, epoch, last_sequence[, recovered]}</td></tr>
<tr><td class="m">denied</td><td>channel not Active (then close 1008) or full (close 1013)</td><td>"Channel &lt;name&gt; is not active" / "Channel &lt;name&gt; is full"; data null</td></tr>
<tr><td class="m">broadcast</td><td>a REST broadcast</td><td>message = content; data = the request's data or null</td></tr>
<tr><td class="m">client_message</td><td>a client text frame on a channel that allows it</td><td>"Client message in &lt;name&gt;: &lt;text&gt;"; data = {original_message, sender: the subscriber token's <code>sub</code> or "client", connection_id}</td></tr>
<tr><td class="m">error</td><td>client message refused (not allowed or over the rate limit); sender only</td><td>a sentence; data null</td></tr>
<tr><td class="m">paused / resumed</td><td>pause / start after pause</td><td>"Channel &lt;name&gt; is paused" / "Channel &lt;name&gt; resumed"</td></tr>
<tr><td class="m">stopped</td><td>stop or delete, then close 1001</td><td>"Channel &lt;name&gt; stopped"</td></tr>
<tr><td class="m">unsubscribed</td><td>multiplexed socket (<code>/api/v1/ws</code>) only, after <code>{"op":"unsubscribe"}</code></td><td>"Unsubscribed from channel &lt;id&gt;"</td></tr>
</table></div>
<pre>{"status":"broadcast","message":"A004","channel_id":"550e8400-e29b-41d4-a716-446655440000",
 "timestamp":"2024-06-01T10:40:00Z","data":null,"sequence":1}</pre>

<h2 id="settings">Channel settings</h2>
<div class="t"><table class="settings">
<tr><th>key</th><th>range</th><th>default</th><th>meaning</th></tr>
<tr><td class="m">max_connections</td><td>1 to 1,000,000</td><td><code>max_connections_per_channel</code></td><td>concurrent WebSocket clients; more are denied (1013)</td></tr>
<tr><td class="m">allow_client_messages</td><td>bool</td><td>false</td><td>relay client text frames as <code>client_message</code></td></tr>
<tr><td class="m">persist_messages</td><td>bool</td><td><code>persist_messages_default</code></td><td>store broadcasts and client messages (history, recovery)</td></tr>
<tr><td class="m">rate_limit_per_minute</td><td>0 to 1,000,000</td><td>60</td><td>broadcasts per 60 s (429) and client messages per connection; 0 = unlimited</td></tr>
<tr><td class="m">replay_last</td><td>0 to 100</td><td>0</td><td>latest broadcasts sent right after <code>connected</code></td></tr>
<tr><td class="m">private</td><td>bool</td><td>false</td><td>WebSocket clients must present a subscriber token naming the channel (<a href="#private">private channels</a>)</td></tr>
</table></div>
<p><code>name</code>: 1–200 characters (need not be unique); <code>description</code>: up to 2000 characters or null.</p>

<h2 id="client">Browser client: <code>emithub.js</code></h2>
<p>The hub serves its own client library, with no dependencies and no build step: <code>/client/emithub.js</code> (ES
module) and <code>/client/emithub.classic.js</code> (classic script that sets <code>window.EmitHub</code>).
<code>EmitHub.subscribe(url, channelId, options)</code> keeps a channel's messages flowing to a page:</p>
<ul>
<li><b>Reconnects after every close</b> except <code>sub.close()</code> (a restart, a stop, a dropped link, an expired
token), waiting a random time between 0 and min(30 s, 1 s × 2<sup>attempt</sup>) — full jitter, so a thousand screens do
not come back in the same millisecond.</li>
<li><b>Resumes</b> with <code>?after=&lt;last sequence&gt;&amp;epoch=&lt;epoch&gt;</code>: on a channel with
<code>persist_messages</code> the page gets exactly what it missed, once, in order. When that is impossible (not
persisted, pruned, or the hub restarted a non-persisting channel) <code>onStatus</code> reports
<code>recovered: false</code> — refetch your state.</li>
<li><b>Dead links</b>: browsers answer the hub's pings but JavaScript cannot see them, so the client asks for a visible
<code>keepalive</code> envelope with each ping (<code>?keepalive=1</code>; its <code>data</code> holds
<code>ping_interval</code> and <code>pong_timeout</code>). After ping_interval + pong_timeout + 5 s without any traffic the
connection is replaced. Other clients never receive keepalive envelopes.</li>
<li><code>onStatus(status)</code>: <code>connection</code> (<code>connecting|connected|waiting|closed</code>),
<code>channel</code> (<code>Active|Paused|Stopped|NotActive|Full</code>), <code>recovered</code>, <code>attempt</code>,
<code>retryInMs</code>, <code>closeCode</code>, <code>closeReason</code>. <code>onMessage(envelope)</code> gets
<code>broadcast</code> and <code>client_message</code> envelopes. Options: <code>token</code> (string, or a function
returning a string or a Promise, called before every connection), <code>baseDelayMs</code> (1000),
<code>maxDelayMs</code> (30000), <code>silenceTimeoutMs</code> (45000 until the first keepalive).
<code>sub.send(text)</code>, <code>sub.close()</code>, <code>sub.lastSequence</code>, <code>sub.epoch</code>.</li>
</ul>
<p>A display page to copy (serve it over HTTP, e.g. <code>python3 -m http.server 3000</code>: the default
<code>[cors] allowed_origins = ["localhost"]</code> admits <code>http://localhost</code> on any port, while a page opened
from <code>file://</code> has the origin <code>null</code> and is refused):</p>
<pre>&lt;!doctype html&gt;
&lt;html lang="es"&gt;
&lt;meta charset="utf-8"&gt;
&lt;title&gt;Sala de espera&lt;/title&gt;
&lt;style&gt;
  body { margin: 0; height: 100vh; display: grid; place-items: center; font: bold 20vw system-ui; }
  #estado { position: fixed; bottom: 1rem; font: 1rem system-ui; color: #555; }
&lt;/style&gt;
&lt;div id="turno" aria-live="assertive"&gt;—&lt;/div&gt;
&lt;div id="estado"&gt;&lt;/div&gt;
&lt;script type="module"&gt;
  import { EmitHub } from "http://localhost:8080/client/emithub.js";
  EmitHub.subscribe("http://localhost:8080", "CHANNEL_ID", {
    onMessage: (m) =&gt; { document.getElementById("turno").textContent = m.message; },
    onStatus: (s) =&gt; {
      document.getElementById("estado").textContent = s.connection + (s.channel ? " · " + s.channel : "") +
        (s.recovered === false ? " · mensajes perdidos" : "");
    },
  });
&lt;/script&gt;</pre>
<p>With a classic script: <code>&lt;script src="http://localhost:8080/client/emithub.classic.js"&gt;&lt;/script&gt;</code>,
then <code>EmitHub.subscribe(…)</code>. Set <code>replay_last: 1</code> on the channel so a screen that (re)connects
shows the current number at once.</p>

<h2 id="private">Private channels and subscriber tokens</h2>
<p>A channel with <code>"private": true</code> admits only WebSocket clients that present a <b>subscriber token</b>: a JWT
(RFC 7519) whose <code>channel</code> claim is the channel id or an array holding it, with <code>exp</code> (required),
optionally <code>nbf</code> and <code>sub</code> (shown as <code>client_message.data.sender</code>). The hub verifies:</p>
<ul>
<li><b>HS256</b> with <code>[auth] token_secret</code> (<code>EMIT_HUB_TOKEN_SECRET</code>, at least 32 characters; the
HMAC key is its UTF-8 bytes), and/or</li>
<li><b>RS256</b> or <b>ES256</b> with the RSA (≥ 2048 bits) or P-256 public key in the PEM file
<code>[auth] token_public_key</code> (<code>EMIT_HUB_TOKEN_PUBLIC_KEY</code>), for tokens your own issuer signs.</li>
</ul>
<p>The algorithm is pinned by the configured key: <code>alg: none</code> and every other algorithm are refused, and an
HS256 token is never checked against a public key. <code>exp</code>/<code>nbf</code> allow <code>[auth] clock_skew</code>
seconds (default 30).</p>
<p><b>Presenting the token.</b> Browsers cannot set headers on a WebSocket, so offer two subprotocols, the marker
<code>emithub.token</code> and the token itself; the hub answers <code>Sec-WebSocket-Protocol: emithub.token</code> (never
echoing the token, which also keeps it out of access logs). Or append <code>?token=&lt;jwt&gt;</code>.</p>
<pre>new WebSocket(`ws://localhost:8080/api/v1/channels/${channelId}/ws`, ["emithub.token", token]);
// emithub.js does it for you, and asks again before every reconnect:
EmitHub.subscribe("http://localhost:8080", channelId, { token: () =&gt; fetch("/my-token").then((r) =&gt; r.text()) });</pre>
<div class="t"><table class="tokens">
<tr><th>upgrade refused</th><th>status, <code>code</code></th></tr>
<tr><td>no token; malformed; bad signature; <code>alg</code> not accepted or <code>none</code>; no <code>exp</code></td><td>401 <code>token_required</code> / <code>invalid_token</code></td></tr>
<tr><td>expired / not yet valid</td><td>401 <code>token_expired</code> / <code>token_not_yet_valid</code></td></tr>
<tr><td>valid, but for other channels</td><td>403 <code>token_wrong_channel</code></td></tr>
<tr><td>the hub has no key configured</td><td>401 <code>token_verification_unavailable</code></td></tr>
</table></div>
<p><b>Expiry while connected</b>: when the token's <code>exp</code> (plus clock skew) passes, the hub closes the connection
with code <b>4001</b> reason <code>token expired</code>. There is no in-band refresh: the client reconnects with a fresh
token and <code>?after=</code> (emithub.js calls your <code>token</code> function again and resumes, so on a persisting
channel nothing is lost).</p>
<p><b>Minting</b> (for operators without their own issuer; API key required):</p>
<pre>curl -X POST http://localhost:8080/api/v1/channels/CHANNEL_ID/tokens \
  -H "Authorization: Bearer $EMIT_HUB_API_KEY" -H "Content-Type: application/json" \
  -d '{"sub": "pantalla-3", "ttl_seconds": 86400}'
{"token":"eyJhbGciOiJIUzI1NiIs…","channel_id":"…","sub":"pantalla-3","expires_at":"2024-06-02T10:40:00Z"}</pre>
<p>Body optional: <code>sub</code> (1–200 characters), <code>ttl_seconds</code> (1–2,592,000, default 3600). 409
<code>token_secret_not_configured</code> without <code>[auth] token_secret</code>.</p>

<h2 id="console">Admin console</h2>
<p><a href="/console"><code>/console</code></a> is an operator page served by the hub: enter the API key (kept in the
tab's sessionStorage only), then list channels with their status and live connection counts; create, edit settings,
start, pause, stop and delete; broadcast content with optional JSON data; watch the channel live through emithub.js
(private channels included: the console mints itself a token); read the history of persisting channels; mint
subscriber tokens. Works with the keyboard alone and on a phone.</p>

<h2 id="config">Configuration (<code>emit_hub.toml</code>)</h2>
<p>Precedence: defaults &lt; TOML file (<code>--config PATH</code>, <code>EMIT_HUB_CONFIG</code>, or <code>./emit_hub.toml</code>) &lt;
<code>EMIT_HUB_*</code> variables &lt; command-line options. <code>emit-hub --generate-config</code> prints every key;
<code>emit-hub --show-env-vars</code> lists the variables. The file is watched: log level, CORS, limits, rate limits and
retention apply at once; host, port and db_path need a restart.</p>
<div class="t"><table class="config">
<tr><th>key</th><th>default</th><th>meaning</th></tr>
<tr><td class="m">host</td><td>"127.0.0.1"</td><td>address to bind</td></tr>
<tr><td class="m">port</td><td>8080</td><td>TCP port, 1–65535</td></tr>
<tr><td class="m">db_path</td><td>"emit_hub_data"</td><td>directory of the embedded store</td></tr>
<tr><td class="m">max_connections_per_channel</td><td>1000</td><td>default <code>max_connections</code> of new channels</td></tr>
<tr><td class="m">max_channels</td><td>10000</td><td>channels held at once; one more create is 409 <code>max_channels_reached</code> (bounds what a create loop can take)</td></tr>
<tr><td class="m">replay_last_max_bytes</td><td>268435456</td><td>bytes of latest broadcasts kept for <code>replay_last</code>, all channels together; past it a channel drops its oldest and replays fewer</td></tr>
<tr><td class="m">catch_up_ring_max_bytes</td><td>268435456</td><td>bytes of recent messages persisting channels keep to join a <code>?after=</code> replay to the live stream, all channels together (at most 4 MiB each); past it clients read more from the store</td></tr>
<tr><td class="m">message_size_limit</td><td>1048576</td><td>bytes of a broadcast's content or a WebSocket message</td></tr>
<tr><td class="m">log_level</td><td>"info"</td><td>trace, debug, info, warn, error</td></tr>
<tr><td class="m">log_format</td><td>"text"</td><td>text or json (one object per line)</td></tr>
<tr><td class="m">api_key</td><td>unset</td><td>Bearer key for <code>/api/v1/channels…</code></td></tr>
<tr><td class="m">static_dir</td><td>unset</td><td>directory whose files are served at <code>/</code> paths (see <a href="#static">Static pages</a>)</td></tr>
<tr><td class="m">[cors] allowed_origins</td><td>["localhost"]</td><td>origins, <code>"*"</code>, <code>"localhost"</code>, or <code>"null"</code> for <code>file://</code> pages</td></tr>
<tr><td class="m">[cors] allowed_methods</td><td>["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]</td><td>preflight methods</td></tr>
<tr><td class="m">[cors] allowed_headers</td><td>["Content-Type", "Authorization", "Accept"]</td><td>preflight headers</td></tr>
<tr><td class="m">[cors] max_age</td><td>3600</td><td>seconds a preflight may be cached</td></tr>
<tr><td class="m">[websocket] connection_timeout</td><td>30</td><td>seconds for the opening handshake, for a client message from its first frame to its last (else 1008), and for the peer's close frame</td></tr>
<tr><td class="m">[websocket] max_continuation_size</td><td>= message_size_limit</td><td>payload bytes of one fragmented message (else 1009)</td></tr>
<tr><td class="m">[websocket] max_message_fragments</td><td>65536</td><td>frames of one fragmented message (else 1009), so endless empty fragments are refused</td></tr>
<tr><td class="m">[websocket] max_partial_message_bytes</td><td>67108864</td><td>bytes held by all unfinished client messages, server-wide; past it the connection holding the most is closed 1009</td></tr>
<tr><td class="m">[websocket] ping_interval</td><td>30</td><td>seconds between server pings</td></tr>
<tr><td class="m">[websocket] pong_timeout</td><td>10</td><td>seconds a pong may take</td></tr>
<tr><td class="m">[websocket] max_pending_bytes</td><td>1048576</td><td>outbound bytes queued per client before "slow consumer"</td></tr>
<tr><td class="m">[websocket] coalesce_window_ms</td><td>10</td><td>a client that was sent something less than this long ago gets its next messages at the window's end, in one gathered send (less CPU on busy channels; at most this much added latency; 0 = send at once)</td></tr>
<tr><td class="m">[websocket] compression</td><td>"shared"</td><td>permessage-deflate: "shared" (each broadcast compressed once for all), "per_connection" or "off"</td></tr>
<tr><td class="m">[websocket] max_subscriptions</td><td>100</td><td>channels one multiplexed socket (/api/v1/ws) may subscribe to</td></tr>
<tr><td class="m">[websocket] echo_path</td><td>unset</td><td>e.g. "/echo": a WebSocket echo endpoint for conformance suites</td></tr>
<tr><td class="m">[persistence] persist_messages_default</td><td>false</td><td>default <code>persist_messages</code> of new channels</td></tr>
<tr><td class="m">[persistence] max_messages_per_channel</td><td>10000</td><td>stored messages kept per channel</td></tr>
<tr><td class="m">[persistence] message_retention_days</td><td>30</td><td>days a stored message is kept</td></tr>
<tr><td class="m">[persistence] auto_backup</td><td>false</td><td>copy a consistent snapshot into db_path/backups/</td></tr>
<tr><td class="m">[persistence] backup_interval_hours</td><td>24</td><td>hours between backups</td></tr>
<tr><td class="m">[persistence] max_pending_messages</td><td>10000</td><td>stored messages (all channels) waiting for their commit; past it 503 <code>store_busy</code> with <code>Retry-After</code>. Group commit keeps this near the number of concurrent publishers, so 10,000 means the disk stalled for seconds. Read at startup</td></tr>
<tr><td class="m">[auth] token_secret</td><td>unset</td><td>HS256 key of subscriber tokens (≥ 32 characters); signs minted tokens</td></tr>
<tr><td class="m">[auth] token_public_key</td><td>unset</td><td>PEM file: RSA (RS256) or P-256 (ES256) public key of your token issuer</td></tr>
<tr><td class="m">[auth] clock_skew</td><td>30</td><td>seconds of tolerance on a token's exp and nbf</td></tr>
<tr><td class="m">[cluster] nats_url</td><td>unset</td><td>NATS server(s), comma-separated: this node joins a cluster whose channels and messages live in NATS JetStream (see <a href="#cluster">Cluster</a>)</td></tr>
<tr><td class="m">[cluster] node_name</td><td>host name:port</td><td>this node's name in logs and its NATS connection</td></tr>
<tr><td class="m">[cluster] creds_file</td><td>unset</td><td>NATS credentials file (JWT + NKey seed)</td></tr>
<tr><td class="m">[cluster] user, password</td><td>unset</td><td>NATS user and password</td></tr>
<tr><td class="m">[cluster] token</td><td>unset</td><td>NATS token</td></tr>
<tr><td class="m">[cluster] tls_ca_file, tls_cert_file, tls_key_file</td><td>unset</td><td>TLS to NATS: CA bundle, client certificate and key (PEM)</td></tr>
<tr><td class="m">[cluster] stream_replicas</td><td>1</td><td>JetStream replicas of the message stream and channel bucket (1–5)</td></tr>
<tr><td class="m">[cluster] unfollow_delay</td><td>30</td><td>seconds a node keeps following a channel (its JetStream consumer) after its last local client left (0–3600); a client joining within it reuses the consumer</td></tr>
<tr><td class="m">[tls] cert_path</td><td>unset</td><td>PEM certificate (leaf, then intermediates); with key_path the port speaks HTTPS and wss://</td></tr>
<tr><td class="m">[tls] key_path</td><td>unset</td><td>PEM private key of cert_path (unencrypted)</td></tr>
</table></div>

<h2 id="env">Environment variables</h2>
<div class="t"><table class="env">
<tr><th>variable</th><th>setting</th></tr>
<tr><td class="m">EMIT_HUB_CONFIG</td><td>path of the TOML file</td></tr>
<tr><td class="m">EMIT_HUB_HOST</td><td>host</td></tr>
<tr><td class="m">EMIT_HUB_PORT</td><td>port</td></tr>
<tr><td class="m">EMIT_HUB_LOG_LEVEL</td><td>log_level</td></tr>
<tr><td class="m">EMIT_HUB_LOG_FORMAT</td><td>log_format (text|json)</td></tr>
<tr><td class="m">EMIT_HUB_DB_PATH</td><td>db_path</td></tr>
<tr><td class="m">EMIT_HUB_MAX_CONNECTIONS</td><td>max_connections_per_channel</td></tr>
<tr><td class="m">EMIT_HUB_MESSAGE_SIZE_LIMIT</td><td>message_size_limit</td></tr>
<tr><td class="m">EMIT_HUB_MAX_CHANNELS</td><td>max_channels</td></tr>
<tr><td class="m">EMIT_HUB_REPLAY_LAST_MAX_BYTES</td><td>replay_last_max_bytes</td></tr>
<tr><td class="m">EMIT_HUB_CATCH_UP_RING_MAX_BYTES</td><td>catch_up_ring_max_bytes</td></tr>
<tr><td class="m">EMIT_HUB_WS_TIMEOUT</td><td>[websocket] connection_timeout</td></tr>
<tr><td class="m">EMIT_HUB_WS_PING_INTERVAL</td><td>[websocket] ping_interval</td></tr>
<tr><td class="m">EMIT_HUB_WS_COALESCE_WINDOW_MS</td><td>[websocket] coalesce_window_ms (0 = send at once)</td></tr>
<tr><td class="m">EMIT_HUB_WS_COMPRESSION</td><td>[websocket] compression (off|shared|per_connection)</td></tr>
<tr><td class="m">EMIT_HUB_CORS_ORIGINS</td><td>[cors] allowed_origins, comma-separated</td></tr>
<tr><td class="m">EMIT_HUB_PERSIST_MESSAGES</td><td>[persistence] persist_messages_default</td></tr>
<tr><td class="m">EMIT_HUB_MESSAGE_RETENTION_DAYS</td><td>[persistence] message_retention_days</td></tr>
<tr><td class="m">EMIT_HUB_AUTO_BACKUP</td><td>[persistence] auto_backup</td></tr>
<tr><td class="m">EMIT_HUB_MAX_PENDING_MESSAGES</td><td>[persistence] max_pending_messages</td></tr>
<tr><td class="m">EMIT_HUB_API_KEY</td><td>api_key</td></tr>
<tr><td class="m">EMIT_HUB_TOKEN_SECRET</td><td>[auth] token_secret</td></tr>
<tr><td class="m">EMIT_HUB_TOKEN_PUBLIC_KEY</td><td>[auth] token_public_key</td></tr>
<tr><td class="m">EMIT_HUB_STATIC_DIR</td><td>static_dir</td></tr>
<tr><td class="m">EMIT_HUB_CLUSTER_NATS_URL</td><td>[cluster] nats_url</td></tr>
<tr><td class="m">EMIT_HUB_CLUSTER_NODE_NAME</td><td>[cluster] node_name</td></tr>
<tr><td class="m">EMIT_HUB_CLUSTER_CREDS_FILE</td><td>[cluster] creds_file</td></tr>
<tr><td class="m">EMIT_HUB_CLUSTER_USER</td><td>[cluster] user</td></tr>
<tr><td class="m">EMIT_HUB_CLUSTER_PASSWORD</td><td>[cluster] password</td></tr>
<tr><td class="m">EMIT_HUB_CLUSTER_TOKEN</td><td>[cluster] token</td></tr>
<tr><td class="m">EMIT_HUB_CLUSTER_TLS_CA_FILE</td><td>[cluster] tls_ca_file</td></tr>
<tr><td class="m">EMIT_HUB_CLUSTER_TLS_CERT_FILE</td><td>[cluster] tls_cert_file</td></tr>
<tr><td class="m">EMIT_HUB_CLUSTER_TLS_KEY_FILE</td><td>[cluster] tls_key_file</td></tr>
<tr><td class="m">EMIT_HUB_CLUSTER_STREAM_REPLICAS</td><td>[cluster] stream_replicas</td></tr>
<tr><td class="m">EMIT_HUB_CLUSTER_UNFOLLOW_DELAY</td><td>[cluster] unfollow_delay</td></tr>
<tr><td class="m">EMIT_HUB_TLS_CERT_PATH</td><td>[tls] cert_path</td></tr>
<tr><td class="m">EMIT_HUB_TLS_KEY_PATH</td><td>[tls] key_path</td></tr>
</table></div>

<h2 id="cluster">Cluster (several nodes, one hub)</h2>
<p>Set <code>[cluster] nats_url</code> (or <code>EMIT_HUB_CLUSTER_NATS_URL</code>) on every node to the same NATS
server(s) with JetStream (<code>nats-server -js</code>). The nodes then behave as one hub behind a load balancer: a
client may connect to any node, a broadcast may be posted to any node, and every client sees the same channels and
the same messages in the same order with the same sequence numbers.</p>
<pre>nats-server -js -sd /var/lib/nats &amp;
EMIT_HUB_CLUSTER_NATS_URL=nats://127.0.0.1:4222 EMIT_HUB_PORT=8081 emit-hub &amp;
EMIT_HUB_CLUSTER_NATS_URL=nats://127.0.0.1:4222 EMIT_HUB_PORT=8082 emit-hub &amp;
curl -X POST http://localhost:8081/api/v1/channels -H 'Content-Type: application/json' -d '{"name":"lobby"}'
# the channel is on both nodes; start it on one, broadcast through the other
</pre>
<div class="t"><table class="cluster">
<tr><th>what</th><th>in a cluster</th></tr>
<tr><td>channels</td><td>JetStream key-value bucket <code>emithub-channels</code>; a change made on any node reaches every node's clients (<code>paused</code>, <code>resumed</code>, <code>stopped</code> + 1001) in well under a second; <code>GET /channels</code> is the same on every node</td></tr>
<tr><td>messages</td><td>one stream per channel, <code>EMITHUB_CH_&lt;id&gt;</code>, subject <code>emithub.ch.&lt;id&gt;</code>; a broadcast's 200 comes after JetStream's acknowledgement. Every message passes through the stream, since it is what orders them; <code>persist_messages</code> decides only whether history and <code>?after=</code> recovery are offered</td></tr>
<tr><td>sequences</td><td>per channel, gap-free and identical on every node, also with publishers on several nodes at once (optimistic concurrency on the channel's last stored message, retried)</td></tr>
<tr><td>fan-out</td><td>a node follows (consumes the stream of) only the channels its clients are on: the first local client's join starts it (the last 256 messages loaded, then live ones), and it stops <code>[cluster] unfollow_delay</code> seconds (default 30, the bundled client's longest reconnect wait) after the last local client left; a client joining within that reuses the running follower. Lifecycle changes reach a node whether or not it follows the channel. <code>/metrics</code>: <code>emithub_cluster_followed_channels</code></td></tr>
<tr><td>retention</td><td><code>message_retention_days</code> → stream MaxAge, <code>max_messages_per_channel</code> → MaxMsgsPerSubject (applied by JetStream, taken from the node that starts first or restarts last)</td></tr>
<tr><td>recovery, history, replay_last</td><td>work on any node (<code>?after=SEQ&amp;epoch=…</code>, <code>GET …/messages</code>); an epoch never changes in a cluster</td></tr>
<tr><td>per node</td><td><code>rate_limit_per_minute</code> (each node refills its own bucket: N nodes accept up to N×), <code>max_connections</code> (each node counts its own clients), <code>stats.connections</code> and a broadcast's <code>recipients</code> (this node's clients)</td></tr>
<tr><td>message over NATS <code>max_payload</code></td><td>413 <code>message_too_large</code> naming the limit (NATS defaults to 1 MB, which a broadcast of the full default <code>message_size_limit</code> exceeds); nothing stored. Raise <code>max_payload</code> in the NATS configuration to match <code>message_size_limit</code></td></tr>
<tr><td>NATS unreachable</td><td><code>/ready</code> answers 503 with <code>"nats":"unavailable"</code>; connected clients stay connected; broadcasts and changes answer 503 <code>cluster_unavailable</code> (broadcasts with <code>Retry-After: 2</code>); when NATS is back the node catches its clients up without gaps</td></tr>
<tr><td>not used</td><td><code>db_path</code> and <code>[persistence] auto_backup</code> (back up the stream and bucket with NATS tools)</td></tr>
</table></div>

<h2 id="durability">Durability of a broadcast</h2>
<p>On a channel with <code>persist_messages</code>, 200 means the message is committed to disk (it survives a crash).
Two 503 answers exist and they differ:</p>
<ul>
<li><code>store_busy</code> (with <code>Retry-After</code>): the disk is behind (<code>max_pending_messages</code>
reached, or the in-memory log is full). Nothing was stored and no sequence was used: retrying is exact. Other
channels are not slowed down.</li>
<li><code>store_unavailable</code>: the message was given a sequence but its commit did not complete (a failed or
hung disk; the store then stays unavailable and <code>/ready</code> answers 503 until a restart). The record may still
have reached the disk, so the outcome is <em>exact but deferred</em>: the body names the <code>sequence</code> and
<code>timestamp</code> the message was given, e.g.
<code>{"error":"…","code":"store_unavailable","sequence":42,"timestamp":"2024-06-01T10:35:00.123Z"}</code>. Once the
store is back, <code>GET /api/v1/channels/{id}/messages?after=41&amp;limit=1</code> returns an envelope with sequence
42 <em>and that timestamp</em> exactly when it was stored (a later message that reused sequence 42 has a later
timestamp). Retrying without that check is at-least-once: the message may then appear twice.</li>
</ul>
<p><b>A damaged store.</b> Every stored record carries a magic, its length and a CRC-32C. A torn tail (bytes after the
last good record, as a crash can leave) is dropped with a WARN line. Damage inside committed data (a flipped bit, a
zeroed disk page) is not a tail: recovery scans past it and keeps every record that still verifies; the lost
sequences are recorded (never handed out again; a client resuming with <code>?after=</code> before them gets
<code>recovered: false</code>), each loss is logged at ERROR with the channel id and sequence range, and
<code>/ready</code> lists it. When the lost bytes held a channel change (create, settings, status, delete), recovery
cannot be trusted: the server refuses to start and says why; <code>emit-hub --recover-skip-corrupt</code> starts anyway
with every record that verifies.</p>

<h2 id="limits">HTTP limits</h2>
<div class="t"><table class="limits">
<tr><th>limit</th><th>answer</th></tr>
<tr><td>request line over 8 KiB</td><td>414</td></tr>
<tr><td>header fields over 32 KiB in all, or more than 100</td><td>431</td></tr>
<tr><td>body over message_size_limit + 64 KiB (from Content-Length or chunk sizes)</td><td>413</td></tr>
<tr><td>malformed request line, field line, Content-Length or chunk size; a chunk extension that is not <code>;name</code> or <code>;name=value</code> (token or quoted-string, RFC 9112 §7.1.1); bare CR/LF; obs-fold; whitespace before a colon; control bytes; Content-Length with Transfer-Encoding; differing Content-Lengths; Transfer-Encoding whose final coding is not a single <code>chunked</code>; missing or duplicate Host; WebSocket upgrade over HTTP/1.0</td><td>400</td></tr>
<tr><td>a transfer coding before <code>chunked</code> (e.g. <code>gzip, chunked</code>)</td><td>501</td></tr>
<tr><td>HTTP version other than 1.0 / 1.1</td><td>505</td></tr>
<tr><td>request head not complete in 10 s, or body slower than 30 s</td><td>408</td></tr>
</table></div>
<p>After a framing error the connection is closed. Keep-alive and pipelining follow RFC 9112; a new connection silent
for 10 s, or idle between requests for 120 s, is closed.</p>

<h2 id="metrics">Metrics (<code>GET /metrics</code>)</h2>
<p>Prometheus text format. Open when no API key is set; with <code>api_key</code> it needs
<code>Authorization: Bearer &lt;key&gt;</code>, which Prometheus sends with <code>authorization: {credentials: …}</code>.
The same instruments are on the .NET meter <code>EmitHub</code> (<code>dotnet-counters monitor --counters EmitHub</code>).</p>
<pre>
scrape_configs:
  - job_name: emithub
    authorization:
      credentials: replace-with-your-api-key
    static_configs:
      - targets: ['127.0.0.1:8080']
</pre>
<div class="t"><table class="metrics">
<tr><th>metric</th><th>meaning</th></tr>
<tr><td class="m">emithub_connections</td><td>TCP connections open now (HTTP and WebSocket)</td></tr>
<tr><td class="m">emithub_connections_accepted_total</td><td>TCP connections accepted</td></tr>
<tr><td class="m">emithub_connections_closed_total</td><td>TCP connections closed, by <code>reason</code>: why they ended (remote_closed, response_close, request_rejected, keep_alive_timeout, upgraded_protocol_closed, tls_handshake_failed, …)</td></tr>
<tr><td class="m">emithub_websocket_connections</td><td>WebSocket connections open now</td></tr>
<tr><td class="m">emithub_websocket_connections_opened_total</td><td>WebSocket upgrades</td></tr>
<tr><td class="m">emithub_websocket_connections_closed_total</td><td>WebSocket connections closed, by <code>reason</code>: client_close, going_away, denied, channel_full, pong_timeout, protocol_error, slow_consumer, abnormal, other</td></tr>
<tr><td class="m">emithub_slow_consumers_total</td><td>clients closed 1008 "slow consumer" (their queued messages dropped)</td></tr>
<tr><td class="m">emithub_channels</td><td>channels by <code>status</code>: Created, Active, Paused, Stopped</td></tr>
<tr><td class="m">emithub_cluster_followed_channels</td><td>cluster only: channels this node follows now (consumes their JetStream stream), lingering ones (no local client for less than <code>unfollow_delay</code>) included</td></tr>
<tr><td class="m">emithub_cluster_follows_started_total</td><td>cluster only: channel followers started (a local client joined a channel not followed)</td></tr>
<tr><td class="m">emithub_cluster_follows_stopped_total</td><td>cluster only: channel followers stopped (no local client for <code>unfollow_delay</code>, or the channel deleted)</td></tr>
<tr><td class="m">emithub_broadcasts_total</td><td>REST broadcasts accepted</td></tr>
<tr><td class="m">emithub_client_messages_total</td><td>client messages relayed</td></tr>
<tr><td class="m">emithub_deliveries_total</td><td>envelopes handed to subscribers (a broadcast to k clients counts k)</td></tr>
<tr><td class="m">emithub_rate_limited_total</td><td>refusals by <code>rate_limit_per_minute</code>, by <code>kind</code>: broadcast (429) or client_message</td></tr>
<tr><td class="m">emithub_network_io_bytes_total</td><td>bytes by <code>direction</code>: received, sent (plaintext on TLS)</td></tr>
<tr><td class="m">emithub_publish_duration_seconds</td><td>histogram: broadcast arrival to acknowledgement, store commit included</td></tr>
<tr><td class="m">emithub_store_commit_duration_seconds</td><td>histogram: time a store write waited for its commit</td></tr>
<tr><td class="m">process_cpu_seconds_total</td><td>CPU time, user and system</td></tr>
<tr><td class="m">process_resident_memory_bytes</td><td>resident set size</td></tr>
<tr><td class="m">process_open_fds</td><td>open file descriptors (sockets included)</td></tr>
<tr><td class="m">process_max_fds</td><td>the descriptor limit (RLIMIT_NOFILE, soft)</td></tr>
<tr><td class="m">process_start_time_seconds</td><td>start time, Unix seconds</td></tr>
<tr><td class="m">dotnet_gc_heap_bytes</td><td>managed heap after the last collection</td></tr>
<tr><td class="m">dotnet_gc_collections_total</td><td>garbage collections by <code>generation</code>: gen0, gen1, gen2</td></tr>
</table></div>

<h2 id="tls">TLS (HTTPS and <code>wss://</code>)</h2>
<p>Set <code>[tls] cert_path</code> and <code>key_path</code> (PEM; or <code>EMIT_HUB_TLS_CERT_PATH</code> /
<code>EMIT_HUB_TLS_KEY_PATH</code>) and the listening port speaks TLS only: <code>https://</code> for REST and
<code>wss://</code> for WebSockets (ALPN <code>http/1.1</code>). When the files change (a renewal), the next handshake uses
the new certificate; a renewal that does not load keeps the previous one and logs a warning. Files that do not hold a
certificate and its key stop the start with exit code 2.</p>
<pre>
EMIT_HUB_TLS_CERT_PATH=/etc/letsencrypt/live/hub.example.com/fullchain.pem \
EMIT_HUB_TLS_KEY_PATH=/etc/letsencrypt/live/hub.example.com/privkey.pem emit-hub
</pre>
<p>Clients then use <code>https://hub.example.com:8080/api/v1/…</code> and <code>wss://hub.example.com:8080/api/v1/channels/{id}/ws</code>.</p>

<h2 id="deploy">Deploy</h2>
<p><code>docker build -t emit-hub . &amp;&amp; docker run -p 8080:8080 emit-hub</code>: a native AOT binary on a small
image, non-root, listening on 0.0.0.0:8080, store in the volume <code>/app/data</code>, health check on
<code>/api/v1/health</code>; <code>docker compose up -d</code> runs the seed's compose file. On a systemd host,
<code>sudo make install</code> puts the binary in <code>/usr/local/bin</code>, the hardened unit
<code>emit-hub.service</code> (Type=notify, DynamicUser, store in <code>/var/lib/emit-hub</code>) in
<code>/usr/local/lib/systemd/system</code> and the configuration in <code>/etc/emit-hub/emit_hub.toml</code>; then
<code>sudo systemctl enable --now emit-hub</code>.</p>
</body>
</html>
""";
}
