// Unit checks of emithub.js (the hub's browser client) in Node with a fake WebSocket and fake timers:
// backoff with full jitter, ?after=/epoch resume without duplicates, recovered:false, dead-link detection by
// silence, a token asked for before every connection, channel status, and close() as the only final close.
// Usage: node emithub_js_unit.mjs <path of emithub.js>. Prints "ok <name>" per check; exit 1 on the first failure.
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";

let now = 0;
let nextTimer = 1;
const timers = new Map();
globalThis.setTimeout = (fn, ms) => { const id = nextTimer++; timers.set(id, { at: now + (ms || 0), fn }); return id; };
globalThis.clearTimeout = (id) => { timers.delete(id); };
const flush = () => new Promise((resolve) => setImmediate(resolve));
async function advance(ms) {
  const end = now + ms;
  for (;;) {
    await flush();
    let next = null;
    for (const [id, t] of timers) if (t.at <= end && (next === null || t.at < next[1].at)) next = [id, t];
    if (next === null) break;
    timers.delete(next[0]);
    now = next[1].at;
    next[1].fn();
  }
  now = end;
  await flush();
}

let sockets = [];
class FakeSocket {
  constructor(url, protocols) { this.url = url; this.protocols = protocols; this.readyState = 0; this.sent = []; sockets.push(this); }
  send(text) { this.sent.push(text); }
  close(code, reason) { this.readyState = 3; this.closedWith = [code, reason]; }
  open() { this.readyState = 1; this.onopen && this.onopen(); }
  message(envelope) { this.onmessage({ data: JSON.stringify(envelope) }); }
  serverClose(code, reason) { this.readyState = 3; this.onclose({ code, reason: reason || "" }); }
}
const last = () => sockets[sockets.length - 1];
const connected = (epoch, lastSequence, extra) => ({
  status: "connected", message: "Connected to channel: x", channel_id: "c", timestamp: "t",
  data: Object.assign({ channel: { status: "Active" }, connection_id: "id", epoch, last_sequence: lastSequence }, extra || {}),
});
const broadcast = (sequence, message) => ({ status: "broadcast", message, channel_id: "c", timestamp: "t", data: null, sequence });

const { EmitHub } = await import(pathToFileURL(process.argv[2]).href);

async function check(name, body) {
  sockets = [];
  timers.clear();
  await body();
  console.log("ok " + name);
}

function start(options) {
  const received = [];
  const statuses = [];
  const sub = EmitHub.subscribe("http://hub.example:8080", "c", Object.assign({
    WebSocket: FakeSocket,
    onMessage: (e) => received.push(e.sequence + ":" + e.message),
    onStatus: (s) => statuses.push(s),
  }, options || {}));
  return { sub, received, statuses };
}

await check("backoff ceilings double up to maxDelayMs with full jitter", async () => {
  const { statuses } = start({ random: () => 0.5, baseDelayMs: 1000, maxDelayMs: 30000 });
  await flush();
  const delays = [];
  for (let i = 0; i < 7; i++) {
    last().serverClose(1006);
    delays.push(statuses[statuses.length - 1].retryInMs);
    await advance(statuses[statuses.length - 1].retryInMs);
  }
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 15000, 15000]);
  assert.equal(sockets.length, 8);
  assert.equal(last().url, "ws://hub.example:8080/api/v1/channels/c/ws?keepalive=1");
});

await check("a connected envelope resets the backoff", async () => {
  const { statuses } = start({ random: () => 0.999 });
  await flush();
  last().serverClose(1006);
  await advance(1000);
  last().serverClose(1006);
  assert.equal(statuses[statuses.length - 1].retryInMs, 1998);
  await advance(2000);
  last().open();
  last().message(connected("E", 0));
  last().serverClose(1001);
  assert.equal(statuses[statuses.length - 1].retryInMs, 999);
});

await check("resume with after and epoch, no duplicate, then live", async () => {
  const { sub, received, statuses } = start({ random: () => 0 });
  await flush();
  last().open();
  last().message(connected("E1", 5));
  last().message(broadcast(6, "m6"));
  last().message(broadcast(7, "m7"));
  last().serverClose(1001, "Server shutting down");
  assert.equal(statuses[statuses.length - 1].connection, "waiting");
  assert.equal(statuses[statuses.length - 1].closeCode, 1001);
  await advance(0);
  assert.equal(last().url, "ws://hub.example:8080/api/v1/channels/c/ws?after=7&epoch=E1&keepalive=1");
  last().open();
  last().message(connected("E1", 9, { recovered: true }));
  last().message(broadcast(7, "m7"));
  last().message(broadcast(8, "m8"));
  last().message(broadcast(9, "m9"));
  last().message(broadcast(10, "m10"));
  assert.deepEqual(received, ["6:m6", "7:m7", "8:m8", "9:m9", "10:m10"]);
  assert.equal(statuses[statuses.length - 1].recovered, true);
  assert.equal(sub.lastSequence, 10);
});

await check("replay_last envelopes after the first connected are delivered, and the next resume starts after them", async () => {
  const { received } = start({ random: () => 0 });
  await flush();
  last().open();
  last().message(connected("E", 12));
  last().message(broadcast(12, "A012"));
  assert.deepEqual(received, ["12:A012"]);
  last().serverClose(1006);
  await advance(0);
  assert.match(last().url, /after=12&epoch=E/);
});

await check("recovered:false is reported and a new epoch's sequences are not taken for duplicates", async () => {
  const { received, statuses } = start({ random: () => 0 });
  await flush();
  last().open();
  last().message(connected("E1", 0));
  for (let i = 1; i <= 4; i++) last().message(broadcast(i, "m" + i));
  last().serverClose(1001);
  await advance(0);
  assert.match(last().url, /after=4&epoch=E1/);
  last().open();
  last().message(connected("E2", 0, { recovered: false }));
  assert.equal(statuses[statuses.length - 1].recovered, false);
  last().message(broadcast(1, "new1"));
  assert.deepEqual(received.slice(-1), ["1:new1"]);
});

await check("silence longer than the keepalive cadence replaces the connection", async () => {
  const { statuses } = start({ random: () => 0 });
  await flush();
  const first = last();
  first.open();
  first.message(connected("E", 0));
  first.message({ status: "keepalive", message: "", channel_id: "c", timestamp: "t", data: { ping_interval: 2, pong_timeout: 1 } });
  await advance(7999);
  assert.equal(first.closedWith, undefined);
  first.message({ status: "keepalive", message: "", channel_id: "c", timestamp: "t", data: { ping_interval: 2, pong_timeout: 1 } });
  await advance(7999);
  assert.equal(first.closedWith, undefined);
  await advance(1);
  assert.deepEqual(first.closedWith, [4000, "silence"]);
  assert.equal(statuses[statuses.length - 1].connection, "connecting");
  assert.equal(sockets.length, 2);
});

await check("the token function is asked before every connection and rides in the subprotocol list", async () => {
  let n = 0;
  start({ random: () => 0, token: async () => "tok" + (++n) });
  await flush();
  assert.deepEqual(last().protocols, ["emithub.token", "tok1"]);
  last().open();
  last().message(connected("E", 0));
  last().serverClose(4001, "token expired");
  await advance(0);
  assert.deepEqual(last().protocols, ["emithub.token", "tok2"]);
});

await check("channel status follows paused, resumed, stopped and denied", async () => {
  const { statuses } = start({ random: () => 0 });
  await flush();
  last().open();
  last().message(connected("E", 0));
  const channel = () => statuses[statuses.length - 1].channel;
  assert.equal(channel(), "Active");
  last().message({ status: "paused", message: "Channel x is paused", channel_id: "c", timestamp: "t", data: null });
  assert.equal(channel(), "Paused");
  last().message({ status: "resumed", message: "Channel x resumed", channel_id: "c", timestamp: "t", data: null });
  assert.equal(channel(), "Active");
  last().message({ status: "stopped", message: "Channel x stopped", channel_id: "c", timestamp: "t", data: null });
  assert.equal(channel(), "Stopped");
  last().serverClose(1001);
  await advance(0);
  last().open();
  last().message({ status: "denied", message: "Channel x is not active", channel_id: "c", timestamp: "t", data: null });
  assert.equal(channel(), "NotActive");
  last().serverClose(1008, "Channel is not active");
  assert.equal(statuses[statuses.length - 1].connection, "waiting");
});

await check("close() is final: no reconnect afterwards", async () => {
  const { sub, statuses } = start({ random: () => 0 });
  await flush();
  last().open();
  last().message(connected("E", 0));
  sub.close();
  assert.deepEqual(last().closedWith, [1000, "closed by the application"]);
  last().serverClose(1000);
  await advance(120000);
  assert.equal(sockets.length, 1);
  assert.equal(statuses[statuses.length - 1].connection, "closed");
});

console.log("all passed");
