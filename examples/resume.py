#!/usr/bin/env python3
"""Follow Chorus channels over chorus.v1 and never miss a message (README.md, "Never miss a message").

    python3 examples/resume.py ws://127.0.0.1:8080 news [sport ...]

Remembers the last offset and epoch seen per channel; after a dropped connection it reconnects and subscribes
with "since", so the server replays what was missed. When it cannot ("recovered": false), the application is
told to reload that channel's state. Needs PyPI's websockets (13 or later): pip install websockets
"""
import asyncio
import json
import random
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake


def parse_binary(frame: bytes):
    """A binary delivery: 0x01, channel length + name, offset (8 bytes big-endian), epoch length + epoch, payload."""
    if frame[0] != 0x01:
        raise ValueError(f"unknown binary format {frame[0]}")
    end = 2 + frame[1]
    channel = frame[2:end].decode()
    offset = int.from_bytes(frame[end : end + 8], "big")
    epoch_end = end + 9 + frame[end + 8]
    return channel, offset, frame[end + 9 : epoch_end].decode(), frame[epoch_end:]


class Resumer:
    """Subscribes to `channels` and calls `on_message(channel, offset, data)` once per message, in order
    (`data`: the JSON value, a string for plain text, bytes for binary), and `on_reset(channel)` when missed
    messages could not be recovered: reload that channel's state from the application, then follow again."""

    def __init__(self, url, channels, on_message, on_reset):
        self.url = url.rstrip("/") + "/ws"
        self.channels = list(channels)
        self.on_message, self.on_reset = on_message, on_reset
        self.positions = {}  # channel -> (offset, epoch) of the last message handled
        self.ws = None  # the open connection, if any

    async def run(self):
        """Connects, and reconnects after every drop (100 ms doubling to 5 s, with jitter), forever."""
        delay = 0.1
        while True:
            try:
                async with connect(self.url, subprotocols=["chorus.v1"], open_timeout=5) as ws:
                    self.ws, delay = ws, 0.1
                    for channel in self.channels:
                        await self.subscribe(channel)
                    async for frame in ws:
                        await self.handle(frame)
            except (OSError, ConnectionClosed, InvalidHandshake, asyncio.TimeoutError) as error:
                print(f"resume: connection lost ({error!r}); retrying", file=sys.stderr)
            self.ws = None
            await asyncio.sleep(delay * random.uniform(0.5, 1))
            delay = min(delay * 2, 5)

    async def subscribe(self, channel):
        request = {"subscribe": channel}
        if channel in self.positions:
            offset, epoch = self.positions[channel]
            request["since"] = {"offset": offset, "epoch": epoch}
        await self.ws.send(json.dumps(request))

    async def handle(self, frame):
        if isinstance(frame, bytes):
            channel, offset, epoch, data = parse_binary(frame)
            return self.deliver(channel, offset, epoch, data)
        message = json.loads(frame)
        if "data" in message:
            self.deliver(message["channel"], message["offset"], message["epoch"], message["data"])
        elif "subscribed" in message:
            channel, known = message["subscribed"], message["subscribed"] in self.positions
            # Recovered: the missed messages follow and move the position on. Otherwise start from here.
            if not message["recovered"]:
                self.positions[channel] = (message["offset"], message["epoch"])
                if known:
                    self.on_reset(channel)
        elif "resync" in message:
            # Messages of the channel may have been missed: subscribe again from the last one handled.
            await self.ws.send(json.dumps({"unsubscribe": message["resync"]}))
            await self.subscribe(message["resync"])
        elif "error" in message:
            print(f"resume: refused: {message}", file=sys.stderr)

    def deliver(self, channel, offset, epoch, data):
        last, known_epoch = self.positions.get(channel, (0, None))
        if epoch == known_epoch and offset <= last:
            return  # already handled (a replay overlapping a resync)
        self.positions[channel] = (offset, epoch)
        self.on_message(channel, offset, data)


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: resume.py ws://HOST:PORT CHANNEL...")
    resumer = Resumer(
        sys.argv[1],
        sys.argv[2:],
        on_message=lambda channel, offset, data: print(f"{channel} {offset}: {data!r}", flush=True),
        on_reset=lambda channel: print(f"{channel}: missed messages are gone; reload its state", flush=True),
    )
    try:
        asyncio.run(resumer.run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
