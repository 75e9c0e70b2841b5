"""permessage-deflate against a real client library nobody here wrote (PyPI `websockets`).

    python compression_roundtrip.py PORT

Against a running Chorus on 127.0.0.1:PORT with the echo endpoint at /echo (scripts/autobahn.sh starts one):
a `websockets` client with its default permessage-deflate offer and one with compression off both subscribe
to a channel; a 2 KiB JSON message published over HTTP must reach both intact, the first compressed (the
negotiated extension is checked, and /metrics must show a compressed delivery); a message under the 256-byte
threshold and an echo of a compressed 64 KiB message must come back intact too. Exits non-zero on any
mismatch.
"""

import asyncio
import json
import sys
import urllib.request

import websockets

PORT = int(sys.argv[1])
BASE = f"127.0.0.1:{PORT}"


def metric(name):
    text = urllib.request.urlopen(f"http://{BASE}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    sys.exit(f"compression: {name} missing from /metrics")


def publish(channel, body):
    request = urllib.request.Request(f"http://{BASE}/publish/{channel}", data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json"})  # a text message
    urllib.request.urlopen(request, timeout=5).read()


async def main():
    before = metric("chorus_compressed_deliveries_total")
    deflate = await websockets.connect(f"ws://{BASE}/ws/roundtrip", max_size=None)
    plain = await websockets.connect(f"ws://{BASE}/ws/roundtrip", compression=None, max_size=None)
    extensions = [type(e).__name__ for e in deflate.protocol.extensions]
    if extensions != ["PerMessageDeflate"]:
        sys.exit(f"compression: default websockets client negotiated {extensions}")
    if plain.protocol.extensions:
        sys.exit("compression: a client that offered nothing got an extension")
    # A ping answered means the server has installed each connection's handler and subscription.
    await (await deflate.ping())
    await (await plain.ping())

    large = json.dumps([{"id": i, "symbol": "CHOR", "price": 100 + i % 7} for i in range(60)])[:2048]
    small = json.dumps({"id": 1, "symbol": "CHOR"})
    for message in (large, small):
        publish("roundtrip", message)
        for client in (deflate, plain):
            received = await asyncio.wait_for(client.recv(), 10)
            if received != message:
                sys.exit(f"compression: a subscriber received {len(received)} bytes instead of the {len(message)} sent")
    after = metric("chorus_compressed_deliveries_total")
    if after != before + 1:
        sys.exit(f"compression: expected exactly one compressed delivery, /metrics went {before} -> {after}")

    echo = await websockets.connect(f"ws://{BASE}/echo", max_size=None)
    text = (large * 40)[:65536]
    await echo.send(text)
    if await asyncio.wait_for(echo.recv(), 10) != text:
        sys.exit("compression: the echo of a compressed 64 KiB message differs")
    for client in (deflate, plain, echo):
        await client.close()
    print(f"== compression: websockets {websockets.version.version} round trip OK "
          f"(compressed and plain subscribers, small-message bypass, 64 KiB echo)")


asyncio.run(main())
