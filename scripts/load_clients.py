#!/usr/bin/env python3
"""Holds WebSocket subscribers open on a running Chorus while other checks scrape it.

Connects CLIENTS subscribers to CHANNEL, publishes MESSAGES text messages over HTTP, checks that every
subscriber received every message, prints "ready <deliveries>" and keeps the connections open until
stdin closes (or HOLD seconds pass). Loopback only, bounded in count and time.
"""
import argparse
import asyncio
import sys
import urllib.request

import websockets


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--channel", default="load")
    parser.add_argument("--hold", type=float, default=120.0)
    args = parser.parse_args()

    url = f"ws://127.0.0.1:{args.port}/ws/{args.channel}"
    clients = [await websockets.connect(url, compression=None) for _ in range(args.clients)]
    for index in range(args.messages):
        request = urllib.request.Request(
            f"http://127.0.0.1:{args.port}/publish/{args.channel}",
            data=f"load message {index}".encode(),
            headers={"Content-Type": "text/plain"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200, response.status
    for client in clients:
        for index in range(args.messages):
            message = await asyncio.wait_for(client.recv(), timeout=10)
            assert message == f"load message {index}", message
    print(f"ready {args.clients * args.messages}", flush=True)

    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.run_in_executor(None, sys.stdin.read), timeout=args.hold)
    except asyncio.TimeoutError:
        pass
    for client in clients:
        await client.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
