/*! emithub.js - the EmitHub browser client. Served by the hub at /client/emithub.js (ES module) and
 * /client/emithub.classic.js (classic script, sets window.EmitHub). No dependencies, no build step.
 *
 *   import { EmitHub } from "http://localhost:8080/client/emithub.js";
 *   const sub = EmitHub.subscribe("http://localhost:8080", channelId, {
 *     onMessage(envelope) { ... },        // broadcast and client_message envelopes, once each, in sequence order
 *     onStatus(status) { ... },           // {connection, channel, recovered, attempt, retryInMs, closeCode, closeReason}
 *     token: () => fetchMyToken(),        // private channels: a JWT string, or a function returning one (or a Promise)
 *   });
 *   sub.close();                          // deliberate: the only close after which it does not reconnect
 *
 * Reconnects after every close but a deliberate one, waiting a random time between 0 and
 * min(maxDelayMs, baseDelayMs * 2^attempt) ("full jitter"), so thousands of screens do not return in the same
 * millisecond. Resumes with ?after=<last sequence>&epoch=<epoch>; when the hub cannot replay what was missed the
 * status says recovered:false (refetch your state). A connection that hears nothing from the hub for
 * silenceTimeoutMs is treated as dead and replaced: the client asks the hub for a visible keepalive envelope every
 * ping_interval (?keepalive=1), because the protocol-level pings a browser answers are invisible to JavaScript.
 */

const DEFAULTS = {
  baseDelayMs: 1000,
  maxDelayMs: 30000,
  // Used until the first keepalive tells the hub's real cadence: ping_interval 30 s + pong_timeout 10 s + margin.
  silenceTimeoutMs: 45000,
  keepalive: true,
  WebSocket: typeof WebSocket !== "undefined" ? WebSocket : undefined,
  random: Math.random,
};

/** Connection states reported in onStatus's `connection`. */
const ConnectionState = Object.freeze({
  connecting: "connecting",
  connected: "connected",
  waiting: "waiting",
  closed: "closed",
});

function toWebSocketBase(url) {
  const base = String(url).replace(/\/+$/, "");
  if (base.startsWith("https://")) return "wss://" + base.slice(8);
  if (base.startsWith("http://")) return "ws://" + base.slice(7);
  return base;
}

class Subscription {
  constructor(url, channelId, options) {
    this.url = url;
    this.channelId = channelId;
    this.options = Object.assign({}, DEFAULTS, options || {});
    this.onMessage = this.options.onMessage || function () {};
    this.onStatusCallback = this.options.onStatus || function () {};
    /** Highest sequence delivered to onMessage; 0 before any. */
    this.lastSequence = 0;
    /** Where the next connection resumes (?after=): the hub's last sequence when we joined, or later. */
    this.position = 0;
    /** The channel's epoch from the last `connected`; sent back with ?after= so the hub can tell a new history. */
    this.epoch = null;
    this.attempt = 0;
    this.socket = null;
    this.closed = false;
    this.retryTimer = null;
    this.silenceTimer = null;
    this.silenceTimeoutMs = this.options.silenceTimeoutMs;
    this.status = {
      connection: ConnectionState.connecting,
      channel: null,
      recovered: null,
      attempt: 0,
      retryInMs: null,
      closeCode: null,
      closeReason: null,
      connectionId: null,
    };
    this.connect();
  }

  /** Sends a text message to the channel (relayed as client_message when the channel allows it). */
  send(text) {
    if (!this.socket || this.socket.readyState !== 1) return false;
    this.socket.send(String(text));
    return true;
  }

  /** Closes for good: no reconnect after this. */
  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.silenceTimer);
    if (this.socket) {
      try { this.socket.close(1000, "closed by the application"); } catch (e) { /* already closed */ }
    }
    this.setStatus({ connection: ConnectionState.closed, retryInMs: null });
  }

  setStatus(change) {
    Object.assign(this.status, change);
    try { this.onStatusCallback(Object.assign({}, this.status)); } catch (e) { console.error(e); }
  }

  async connect() {
    if (this.closed) return;
    this.setStatus({ connection: ConnectionState.connecting, attempt: this.attempt, retryInMs: null });
    let token = null;
    try {
      token = typeof this.options.token === "function" ? await this.options.token() : this.options.token;
    } catch (e) {
      this.scheduleReconnect(null, "token callback failed: " + (e && e.message ? e.message : e));
      return;
    }
    if (this.closed) return;
    const query = [];
    if (this.epoch !== null) {
      query.push("after=" + this.position);
      if (this.epoch !== null) query.push("epoch=" + encodeURIComponent(this.epoch));
    }
    if (this.options.keepalive) query.push("keepalive=1");
    const address = toWebSocketBase(this.url) + "/api/v1/channels/" + encodeURIComponent(this.channelId) + "/ws" +
      (query.length ? "?" + query.join("&") : "");
    let socket;
    try {
      // The token rides in Sec-WebSocket-Protocol (browsers cannot set headers); the hub selects "emithub.token".
      const Socket = this.options.WebSocket;
      socket = token ? new Socket(address, ["emithub.token", String(token)]) : new Socket(address);
    } catch (e) {
      this.scheduleReconnect(null, "cannot open WebSocket: " + (e && e.message ? e.message : e));
      return;
    }
    this.socket = socket;
    socket.onopen = () => this.armSilenceTimer();
    socket.onmessage = (event) => this.handleMessage(event.data);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      clearTimeout(this.silenceTimer);
      if (this.closed) return;
      this.scheduleReconnect(event.code, event.reason || null);
    };
    socket.onerror = () => { /* onclose follows with the code */ };
  }

  armSilenceTimer() {
    clearTimeout(this.silenceTimer);
    if (!this.options.keepalive || this.silenceTimeoutMs <= 0) return;
    const socket = this.socket;
    this.silenceTimer = setTimeout(() => {
      // Nothing for longer than the hub's keepalive cadence allows: the link is dead even if the browser has not
      // noticed (a dropped NAT mapping, a sleeping laptop). Replace the connection.
      if (this.socket === socket && socket) {
        this.socket = null;
        try { socket.close(4000, "silence"); } catch (e) { /* ignore */ }
        this.scheduleReconnect(4000, "no traffic from the hub for " + this.silenceTimeoutMs + " ms");
      }
    }, this.silenceTimeoutMs);
  }

  handleMessage(data) {
    this.armSilenceTimer();
    let envelope;
    try {
      envelope = JSON.parse(data);
    } catch (e) {
      return;
    }
    const status = envelope.status;
    const payload = envelope.data || {};
    switch (status) {
      case "connected": {
        this.attempt = 0;
        if (typeof payload.epoch === "string") this.epoch = payload.epoch;
        const channel = payload.channel && payload.channel.status ? payload.channel.status : "Active";
        if (typeof payload.last_sequence === "number") {
          if (payload.recovered === undefined) {
            // First join: start at the channel's present (replay_last envelopes that follow are still delivered).
            this.position = payload.last_sequence;
          } else if (payload.recovered === false) {
            // What was missed is gone (not persisted, pruned, or a new epoch whose sequences restart at 1):
            // continue from the hub's present.
            this.position = payload.last_sequence;
            this.lastSequence = payload.last_sequence;
          }
        }
        this.setStatus({
          connection: ConnectionState.connected,
          channel: channel,
          recovered: payload.recovered === undefined ? null : payload.recovered,
          attempt: 0,
          retryInMs: null,
          closeCode: null,
          closeReason: null,
          connectionId: payload.connection_id || null,
        });
        return;
      }
      case "keepalive":
        if (typeof payload.ping_interval === "number" && typeof payload.pong_timeout === "number") {
          this.silenceTimeoutMs = (payload.ping_interval + payload.pong_timeout) * 1000 + 5000;
          this.armSilenceTimer();
        }
        return;
      case "broadcast":
      case "client_message":
        if (typeof envelope.sequence === "number") {
          if (envelope.sequence <= this.lastSequence) return; // already delivered (replay overlap)
          this.lastSequence = envelope.sequence;
          if (envelope.sequence > this.position) this.position = envelope.sequence;
        }
        try { this.onMessage(envelope); } catch (e) { console.error(e); }
        return;
      case "paused":
        this.setStatus({ channel: "Paused" });
        return;
      case "resumed":
        this.setStatus({ channel: "Active" });
        return;
      case "stopped":
        this.setStatus({ channel: "Stopped" });
        return;
      case "denied":
        this.setStatus({ channel: /full/.test(envelope.message || "") ? "Full" : "NotActive" });
        return;
      default:
        // "error" and anything newer: not a channel message.
        if (this.options.onNotice) {
          try { this.options.onNotice(envelope); } catch (e) { console.error(e); }
        }
    }
  }

  scheduleReconnect(code, reason) {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    const ceiling = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * Math.pow(2, this.attempt));
    const delay = Math.floor(this.options.random() * ceiling);
    this.attempt += 1;
    this.setStatus({
      connection: ConnectionState.waiting,
      attempt: this.attempt,
      retryInMs: delay,
      closeCode: code,
      closeReason: reason,
    });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}

/**
 * Subscribes to a channel and keeps the subscription alive until close().
 * @param {string} url the hub's base URL: http(s)://host:port or ws(s)://host:port
 * @param {string} channelId the channel's id (UUID)
 * @param {object} [options] onMessage, onStatus, onNotice, token (string or function returning a string or a
 *   Promise), baseDelayMs (1000), maxDelayMs (30000), silenceTimeoutMs (45000 until the hub's cadence is known),
 *   keepalive (true)
 * @returns {Subscription} with close(), send(text), status, lastSequence, position, epoch
 */
function subscribe(url, channelId, options) {
  return new Subscription(url, channelId, options);
}

const EmitHub = Object.freeze({ subscribe: subscribe, ConnectionState: ConnectionState, version: "1" });

export { EmitHub, subscribe };
