// Node `ws` with permessage-deflate on:  node deflate_node_client.js PORT CHANNEL_ID BROADCASTS CLIENT_NO_CONTEXT_TAKEOVER(0|1) [CLIENT_TEXT]
// threshold 0 so the client's own message is compressed too. Prints "EXT <agreed>", every message as "MSG <text>",
// and "DONE" after BROADCASTS broadcast envelopes.
const WebSocket = require('ws');
const [port, channel, wanted, noTakeover, clientText] = process.argv.slice(2);
const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/channels/${channel}/ws`, {
  perMessageDeflate: { threshold: 0, clientNoContextTakeover: noTakeover === '1' },
});
let seen = 0;
ws.on('upgrade', (res) => console.log('EXT', res.headers['sec-websocket-extensions']));
ws.on('message', (data) => {
  const text = data.toString('utf8');
  console.log('MSG', text);
  const envelope = JSON.parse(text);
  if (envelope.status === 'connected' && clientText) {
    ws.send(clientText);
  }
  if (envelope.status === 'broadcast' && ++seen === Number(wanted)) {
    console.log('DONE');
    ws.close(1000);
  }
});
ws.on('error', (e) => console.log('ERROR', e.message));
ws.on('close', (code) => console.log('CLOSED', code));
