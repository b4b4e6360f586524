# python-websockets with its defaults (permessage-deflate offered, client context takeover):
#   python3 deflate_python_client.py PORT CHANNEL_ID BROADCASTS [CLIENT_TEXT]
# Prints the negotiated extension, then every message received as "MSG <text>", and exits after BROADCASTS
# broadcast envelopes. The end-to-end test compares the texts with an uncompressed client's.
import asyncio, json, sys
import websockets

async def main():
    port, channel, wanted = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client_text = sys.argv[4] if len(sys.argv) > 4 else None
    async with websockets.connect(f"ws://127.0.0.1:{port}/api/v1/channels/{channel}/ws", max_size=None) as ws:
        print("EXT", ws.response_headers.get("Sec-WebSocket-Extensions"), flush=True)
        seen = 0
        async for text in ws:
            print("MSG", text, flush=True)
            envelope = json.loads(text)
            if envelope["status"] == "connected" and client_text:
                await ws.send(client_text)
            if envelope["status"] == "broadcast":
                seen += 1
                if seen == wanted:
                    break
    print("DONE", flush=True)

asyncio.run(main())
