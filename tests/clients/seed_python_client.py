# The seed's Python client (emit-hub.es.md, "Cliente Python"), unchanged, driven by the end-to-end tests:
#   python3 seed_python_client.py BASE_URL CHANNEL_ID
# It prints what the seed's handler prints; the test reads stdout.
import asyncio
import websockets
import json
import logging
import sys

class EmitHubClient:
    def __init__(self, base_url: str, channel_id: str):
        self.base_url = base_url.replace('http', 'ws')
        self.channel_id = channel_id
        self.websocket = None
        
    async def connect(self):
        uri = f"{self.base_url}/api/v1/channels/{self.channel_id}/ws"
        
        try:
            self.websocket = await websockets.connect(uri)
            logging.info(f"🟢 Conectado a EmitHub: {uri}")
            
            await self.listen_messages()
            
        except Exception as e:
            logging.error(f"❌ Error conectando: {e}")
            
    async def listen_messages(self):
        async for message in self.websocket:
            try:
                data = json.loads(message)
                await self.handle_message(data)
            except json.JSONDecodeError:
                logging.error(f"Error parsing message: {message}")
                
    async def handle_message(self, data):
        status = data.get('status')
        message = data.get('message')
        
        if status == 'broadcast':
            print(f"🎯 Turno llamado: {message}")
            # Aquí puedes agregar lógica específica
            # como enviar email, actualizar base de datos, etc.
            
        elif status == 'connected':
            print(f"✅ Conectado al canal: {data.get('channel_id')}")
            
        else:
            print(f"📨 Mensaje: {message}")
            
    async def disconnect(self):
        if self.websocket:
            await self.websocket.close()

# Uso (the seed hard-codes the URL and id; the test passes them in)
async def main():
    client = EmitHubClient(
        base_url=sys.argv[1],
        channel_id=sys.argv[2]
    )
    
    await client.connect()

if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    logging.basicConfig(level=logging.INFO)
    asyncio.run(main())
