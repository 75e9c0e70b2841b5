#!/usr/bin/env python3
"""A reconnect storm that recovers: starts BINARY with --history-size 300, publishes 300 messages of 1 KiB to one
channel, then opens 1,000 chorus.v1 connections at once, each recovering all 300 (`?since=0&epoch=…`). Checks that
every client receives exactly offsets 1..300 in order and that the server disconnected no slow consumer at its
default limits (issue 19's target). Loopback only, bounded (60 s).

    scripts/recovery-storm.py .build/release/chorus [CLIENTS] [MESSAGES] [SIZE]
"""
import asyncio, http.client, json, re, socket, subprocess, sys, time

import websockets

binary = sys.argv[1]
clients = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
messages = int(sys.argv[3]) if len(sys.argv) > 3 else 300
size = int(sys.argv[4]) if len(sys.argv) > 4 else 1024


def free_port():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def metrics(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/metrics")
    body = connection.getresponse().read().decode()
    return {match[0]: float(match[1]) for match in re.findall(r"^(\S+) (\S+)$", body, re.M)}


async def recover(port, epoch, index):
    url = f"ws://127.0.0.1:{port}/ws/storm?protocol=chorus.v1&since=0&epoch={epoch}"
    async with websockets.connect(url, max_size=None, ping_interval=None, max_queue=None) as ws:
        answer = json.loads(await ws.recv())
        assert answer.get("recovered") is True and answer["offset"] == messages, answer
        for expected in range(1, messages + 1):
            delivery = json.loads(await ws.recv())
            assert delivery["offset"] == expected, (index, delivery["offset"], expected)
    return index


async def storm(port, epoch):
    started = time.monotonic()
    done = await asyncio.wait_for(asyncio.gather(*(recover(port, epoch, i) for i in range(clients))), 60)
    return len(done), time.monotonic() - started


port = free_port()
server = subprocess.Popen(
    [binary, "--port", str(port), "--history-size", str(messages), "--log-level", "warning"])
try:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    epoch = None
    for index in range(messages):
        body = json.dumps({"n": index, "pad": "x" * (size - 30)}).encode()
        connection.request("POST", "/publish/storm", body=body, headers={"Content-Type": "application/json"})
        answer = json.loads(connection.getresponse().read())
        epoch = answer["epoch"]
    recovered, elapsed = asyncio.run(storm(port, epoch))
    after = metrics(port)
    disconnects = after.get("chorus_slow_consumer_disconnects_total", 0)
    drops = after.get("chorus_slow_consumer_drops_total", 0)
    replayed = after.get("chorus_recovery_replayed_messages_total", 0)
    print(f"{recovered} clients recovered {messages} messages of {size} B each in {elapsed:.1f} s; "
          f"replayed {replayed:.0f}; slow-consumer disconnects {disconnects:.0f}, drops {drops:.0f}")
    assert recovered == clients and replayed == clients * messages and disconnects == 0 and drops == 0
finally:
    server.terminate()
    server.wait(timeout=10)
