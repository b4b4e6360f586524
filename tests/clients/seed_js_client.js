// The seed's browser client (emit-hub.es.md, "Conectar Clientes"), unchanged, run under Node with the `ws`
// package standing in for the browser's WebSocket:  node seed_js_client.js CHANNEL_ID PORT [MESSAGE]
// It logs what the seed's handlers log; the end-to-end test reads stdout.
const WebSocket = require('ws');
const channelId = process.argv[2];
const port = process.argv[3];
const toSend = process.argv[4];

// Cliente JavaScript (seed; only the host:port is parameterised)
const ws = new WebSocket(`ws://localhost:${port}/api/v1/channels/${channelId}/ws`);

ws.onopen = function() {
    console.log('🟢 Conectado al canal');
    if (toSend) {
        // Enviar mensaje (si está permitido)
        ws.send(toSend);
    }
};

ws.onmessage = function(event) {
    const data = JSON.parse(event.data);
    console.log('📨 Mensaje recibido:', JSON.stringify(data));
    
    if (data.status === 'broadcast') {
        console.log('🎯 Turno llamado:', data.message);
        // Mostrar en pantalla, reproducir sonido, etc.
    }
};

ws.onerror = function(error) {
    console.error('❌ Error de conexión:', error.message);
};

ws.onclose = function(event) {
    console.log('closed', event.code, event.wasClean);
    process.exit(0);
};
