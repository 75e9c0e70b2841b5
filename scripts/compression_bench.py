#!/usr/bin/env python3
"""Bytes on the wire and server CPU per 1,000 deliveries, with and without permessage-deflate.

    python3 scripts/compression_bench.py --port PORT [--clients 5000] [--messages 200] [--bytes 2048]

Against a running Chorus on 127.0.0.1:PORT (loopback only), run twice: CLIENTS raw WebSocket subscribers that
do not offer compression, then CLIENTS that offer `permessage-deflate` (as browsers do). Each run publishes
MESSAGES JSON messages of BYTES bytes over HTTP, one after another, waits until every subscriber has read
every byte the server wrote, and reports from /metrics: wire bytes per delivery (chorus_delivered_bytes_total),
server CPU (process_cpu_seconds_total) per 1,000 deliveries, and compressed frames against deliveries.
Needs about 2 x CLIENTS file descriptors (ulimit -n).
"""
import argparse
import asyncio
import base64
import json
import os
import sys
import time
import urllib.request


def metrics(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        name, _, value = line.rpartition(" ")
        values[name] = float(value)
    return values


def payload(size, index):
    items = []
    text = ""
    while len(text) < size:
        items.append({"id": index * 1000 + len(items), "symbol": "CHOR", "price": 100 + len(items) % 7,
                      "side": "buy" if len(items) % 2 else "sell"})
        text = json.dumps(items)
    return text[:size]


async def subscriber(port, offer, counter):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /ws/bench HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if offer:
        request += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    writer.write((request + "\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(head.decode(errors="replace"))
    if offer != (b"permessage-deflate" in head.lower()):
        raise RuntimeError("unexpected negotiation: " + head.decode(errors="replace"))

    async def drain():
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            counter[0] += len(chunk)

    return writer, asyncio.ensure_future(drain())


async def run(port, clients, messages, size, offer):
    counter = [0]
    connections = []
    for start in range(0, clients, 500):
        connections += await asyncio.gather(*(subscriber(port, offer, counter) for _ in range(start, min(clients, start + 500))))
    # Wait until every subscription is registered (chorus_subscriptions counts them).
    deadline = time.monotonic() + 60
    while metrics(port).get("chorus_subscriptions", 0) < clients:
        if time.monotonic() > deadline:
            sys.exit("bench: subscriptions did not all register")
        await asyncio.sleep(0.1)
    counter[0] = 0
    before = metrics(port)
    loop = asyncio.get_running_loop()
    for index in range(messages):
        body = payload(size, index).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/publish/bench", data=body,
                                         headers={"Content-Type": "application/json"}, method="POST")
        await loop.run_in_executor(None, lambda: urllib.request.urlopen(request, timeout=30).read())
    after_publish = metrics(port)
    written = after_publish["chorus_delivered_bytes_total"] - before["chorus_delivered_bytes_total"]
    deadline = time.monotonic() + 120
    while counter[0] < written:
        if time.monotonic() > deadline:
            sys.exit(f"bench: subscribers read {counter[0]} of {written} bytes")
        await asyncio.sleep(0.05)
    after = metrics(port)
    deliveries = after["chorus_deliveries_total"] - before["chorus_deliveries_total"]
    cpu = after["process_cpu_seconds_total"] - before["process_cpu_seconds_total"]
    compressed = after["chorus_compressed_frames_total"] - before["chorus_compressed_frames_total"]
    compressed_deliveries = after["chorus_compressed_deliveries_total"] - before["chorus_compressed_deliveries_total"]
    print(f"{'deflate' if offer else 'plain  '}: {clients} subscribers x {messages} messages of {size} B: "
          f"{int(deliveries)} deliveries, {written / deliveries:.0f} wire bytes per delivery "
          f"({written / deliveries * 1000 / 1024:.0f} KiB per 1,000), server CPU {cpu * 1000 / deliveries * 1000:.1f} ms "
          f"per 1,000 deliveries, {int(compressed)} messages compressed for {int(compressed_deliveries)} compressed deliveries",
          flush=True)
    for writer, task in connections:
        writer.close()
        task.cancel()
    await asyncio.sleep(0.5)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--bytes", type=int, default=2048)
    args = parser.parse_args()
    for offer in (False, True):
        await run(args.port, args.clients, args.messages, args.bytes, offer)
        deadline = time.monotonic() + 30
        while metrics(args.port).get("chorus_connections", 0) > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)


asyncio.run(main())
