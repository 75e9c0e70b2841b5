#!/usr/bin/env python3
"""A reconnect storm against --max-upgrades-per-second (issue 22's target): CLIENTS clients reconnect at once (a
deploy's worth) to BINARY started with --max-upgrades-per-second RATE. Each does a real, complete WebSocket upgrade
over a raw socket (the GET with the Upgrade headers; a 101 with the right Sec-WebSocket-Accept, then the socket is
kept open). A 503 must carry Retry-After: the client waits that many seconds plus a little jitter (uniform 0 to
JITTER s, the first backoff step of chorus.js) and tries again. Any other answer, or a connection error, is a failure.

Meanwhile a canary chorus.v1 subscriber, connected before the storm, follows a channel a publisher posts to over HTTP
at PUBLISH_RATE messages a second: at the end it must have every offset 1..N exactly once, in order.

Checks: every client connected within BOUND_S seconds of the storm's start, no failure, every 503 had Retry-After
(1..60 s, the server's range of turns), the server's chorus_handshakes_rejected_total{reason="rate"} equals the 503s the
clients counted, chorus_connections shows them all open at once, and the canary is complete. Prints one summary line.

The clients run in PROCESSES processes (each under the 20,000-descriptor limit), spread over the source addresses
127.0.0.2 to 127.0.0.9. Loopback only, bounded: the clients give up STORM_TIMEOUT_S after the start, the whole
script ends within about a minute and kills the server.

    (ulimit -n 20000 && python3 scripts/reconnect-storm.py .build/release/chorus [CLIENTS] [RATE])
"""
import base64
import hashlib
import errno
import heapq
import http.client
import json
import multiprocessing
import os
import random
import re
import select
import resource
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

import websockets.sync.client

binary = sys.argv[1]
clients = int(sys.argv[2]) if len(sys.argv) > 2 else 18000
rate = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
JITTER_S = 0.5
# The bound on the time until every client is connected: the gate gives refused clients turns RATE per second
# apart, starting a second after the storm's start, so the last turn is about CLIENTS / RATE seconds after it (the
# first RATE pass at once), plus the client's jitter and a second for Retry-After's whole seconds: 5.1 s for 18,000
# at 5,000/s.
BOUND_S = float(os.environ.get("STORM_BOUND_S", clients / rate + 1 + JITTER_S))
STORM_TIMEOUT_S = 30.0
PROCESSES = max(2, -(-clients // 4500))
SOURCES = [f"127.0.0.{n}" for n in range(2, 10)]
PUBLISH_RATE = 50
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def metrics(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/metrics")
    body = connection.getresponse().read().decode()
    connection.close()
    return {match[0]: float(match[1]) for match in re.findall(r"^(\S+) (\S+)$", body, re.M)}


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def storm_worker(port, indexes, ready, go, start_value, finished, release, results):
    """Runs `indexes`' clients on one epoll loop of raw non-blocking sockets (asyncio's per-connection cost made the
    clients, not the server, the bottleneck of a storm on two cores)."""
    raise_fd_limit()
    result = {"connected_at": [], "refused_at": [], "refused": 0, "retry_after": Counter(), "failures": Counter()}
    poller = select.epoll()
    attempts = {}  # fd -> [socket, client index, expected Sec-WebSocket-Accept, bytes read, connected]
    kept = []
    timers = []  # (when, client index): first attempts and retries
    ready.put(len(indexes))
    go.wait()
    start = start_value.value
    deadline = start + STORM_TIMEOUT_S
    for index in indexes:
        heapq.heappush(timers, (start, index))
    pending = len(indexes)

    def begin(index):
        key = base64.b64encode(os.urandom(16))
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        sock = socket.socket()
        # Without IP_BIND_ADDRESS_NO_PORT every bind to port 0 searches the bound ports (thousands of them): the
        # port is picked at connect time instead.
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((SOURCES[index % len(SOURCES)], 0))
        sock.setblocking(False)
        error = sock.connect_ex(("127.0.0.1", port))
        if error not in (0, errno.EINPROGRESS):
            sock.close()
            return f"connect: {os.strerror(error)}"
        attempts[sock.fileno()] = [sock, index, accept, b"", False, key]
        poller.register(sock.fileno(), select.EPOLLOUT)
        return None

    def answered(fd, attempt, head):
        nonlocal pending
        sock, index, accept = attempt[0], attempt[1], attempt[2]
        poller.unregister(fd)
        del attempts[fd]
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].split(" ")[1] if lines[0].startswith("HTTP/1.1 ") else lines[0]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if status == "101" and headers.get("sec-websocket-accept") == accept:
            kept.append(sock)  # open until the main process has counted the connections
            result["connected_at"].append(time.monotonic() - start)
            pending -= 1
            return
        sock.close()
        retry_after = headers.get("retry-after", "")
        if status == "503" and retry_after.isdigit():
            result["refused"] += 1
            result["refused_at"].append(time.monotonic() - start)
            result["retry_after"][int(retry_after)] += 1
            heapq.heappush(timers, (time.monotonic() + int(retry_after) + random.uniform(0, JITTER_S), index))
            return
        wrong = "101 with a wrong Sec-WebSocket-Accept"
        result["failures"][wrong if status == "101" else f"{status} (Retry-After: {retry_after or 'none'})"] += 1
        pending -= 1

    def failed(fd, attempt, reason):
        nonlocal pending
        poller.unregister(fd)
        del attempts[fd]
        attempt[0].close()
        result["failures"][reason] += 1
        pending -= 1

    while pending and time.monotonic() < deadline:
        now = time.monotonic()
        begun = 0
        # At most 256 new attempts per turn, so the answers to the first ones are read while the rest start.
        while timers and timers[0][0] <= now and begun < 256:
            _, index = heapq.heappop(timers)
            begun += 1
            refused = begin(index)
            if refused:
                result["failures"][refused] += 1
                pending -= 1
        wait = 0 if timers and timers[0][0] <= now else min(0.05, timers[0][0] - now) if timers else 0.05
        for fd, events in poller.poll(max(0.0, wait)):
            attempt = attempts[fd]
            sock = attempt[0]
            if not attempt[4]:
                error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error:
                    failed(fd, attempt, f"connect: {os.strerror(error)}")
                    continue
                attempt[4] = True
                sock.send(b"GET /ws/storm HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                          b"Connection: Upgrade\r\nSec-WebSocket-Key: " + attempt[5]
                          + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
                poller.modify(fd, select.EPOLLIN)
                continue
            try:
                data = sock.recv(4096)
            except OSError as error:
                failed(fd, attempt, f"read: {error.strerror}")
                continue
            if not data:
                failed(fd, attempt, "closed before the head")
                continue
            attempt[3] += data
            end = attempt[3].find(b"\r\n\r\n")
            if end >= 0:
                answered(fd, attempt, attempt[3][:end])
    if pending:
        result["failures"]["not connected by the deadline"] += pending
    results.put(result)
    finished.put(True)
    release.wait(20)
    for sock in kept:
        sock.close()


class Canary:
    """A chorus.v1 subscriber of `canary`, and a publisher posting to it PUBLISH_RATE times a second."""

    def __init__(self, port):
        self.port = port
        self.offsets = []
        self.published = 0
        self.publish_errors = []
        self.stop = threading.Event()
        self.socket = websockets.sync.client.connect(
            f"ws://127.0.0.1:{port}/ws/canary?protocol=chorus.v1", max_size=None).__enter__()
        answer = json.loads(self.socket.recv(timeout=10))
        assert answer.get("subscribed") == "canary" and answer["offset"] == 0, answer
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.writer = threading.Thread(target=self.publish, daemon=True)
        self.reader.start()
        self.writer.start()

    def read(self):
        try:
            for message in self.socket:
                delivery = json.loads(message)
                self.offsets.append(delivery["offset"])
        except websockets.exceptions.ConnectionClosed:
            pass

    def publish(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        began = time.monotonic()
        while not self.stop.is_set():
            try:
                connection.request("POST", "/publish/canary", body=json.dumps({"n": self.published + 1}),
                                   headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    self.published += 1
                else:
                    self.publish_errors.append(response.status)
            except OSError as error:
                self.publish_errors.append(str(error))
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            self.stop.wait(max(0.0, began + (self.published + len(self.publish_errors)) / PUBLISH_RATE
                               - time.monotonic()))

    def finish(self):
        self.stop.set()
        self.writer.join(15)
        # Wait (bounded) for the last published offset to arrive.
        deadline = time.monotonic() + 5
        while (not self.offsets or self.offsets[-1] < self.published) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.socket.close()
        self.reader.join(5)


def main():
    limit = raise_fd_limit()
    per_process = -(-clients // PROCESSES)
    if limit < clients + 100 or limit < per_process + 200:
        sys.exit(f"FAIL: descriptor limit {limit}: run as (ulimit -n 20000 && python3 {sys.argv[0]} ...)")
    port = free_port()
    server = subprocess.Popen([binary, "--port", str(port), "--max-upgrades-per-second", str(rate),
                               "--log-level", "error"])
    context = multiprocessing.get_context("fork")
    workers = []
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        # The workers are forked before any thread starts; they wait for `go`.
        ready, finished, results = context.Queue(), context.Queue(), context.Queue()
        go, release = context.Event(), context.Event()
        start_value = context.Value("d", 0.0)
        for n in range(PROCESSES):
            indexes = list(range(n, clients, PROCESSES))
            worker = context.Process(target=storm_worker, daemon=True,
                                     args=(port, indexes, ready, go, start_value, finished, release, results))
            worker.start()
            workers.append(worker)
        for _ in workers:
            ready.get(timeout=20)
        canary = Canary(port)
        time.sleep(0.5)  # some canary traffic before the storm (a timed warm-up, not a wait for an event)
        start_value.value = time.monotonic()
        go.set()
        reports = []
        for _ in workers:
            finished.get(timeout=STORM_TIMEOUT_S + 10)
            reports.append(results.get(timeout=5))
        during = metrics(port)
        release.set()
        canary.finish()
        after = metrics(port)
    finally:
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()

    connected_at = sorted(t for report in reports for t in report["connected_at"])
    refused = sum(report["refused"] for report in reports)
    retry_after = sum((report["retry_after"] for report in reports), Counter())
    failures = sum((report["failures"] for report in reports), Counter())
    rejected_rate = after.get('chorus_handshakes_rejected_total{reason="rate"}', 0)
    rejected_other = sum(value for name, value in after.items()
                         if name.startswith("chorus_handshakes_rejected_total") and 'reason="rate"' not in name)
    open_during = during.get("chorus_connections", -1)
    expected = list(range(1, canary.published + 1))
    last = connected_at[-1] if connected_at else float("nan")

    def at(fraction):
        return connected_at[min(len(connected_at) - 1, int(fraction * len(connected_at)))] if connected_at else 0

    first_wave = sum(1 for t in connected_at if t < 1.0)
    last_refusal = max((t for report in reports for t in report["refused_at"]), default=0.0)
    spread = " ".join(f"{seconds}s:{count}" for seconds, count in sorted(retry_after.items()))
    print(f"reconnect storm: {len(connected_at)}/{clients} connected at {rate}/s in {last:.2f} s "
          f"(first second {first_wave}, p50 {at(0.5):.2f} s, p90 {at(0.9):.2f} s); {refused} 503s, the last at "
          f"{last_refusal:.2f} s "
          f"(Retry-After {spread}); rate rejections {rejected_rate:.0f}, other rejections {rejected_other:.0f}; "
          f"open at once {open_during:.0f}; failures {dict(failures) or 0}; canary {len(canary.offsets)}/"
          f"{canary.published} in order={canary.offsets == expected} (publish errors {len(canary.publish_errors)})"
          f"; bound {BOUND_S:.1f} s"
          + ("" if refused else f" (the upgrades never came faster than {rate}/s: the gate refused none)"))
    problems = []
    if len(connected_at) != clients:
        problems.append(f"{clients - len(connected_at)} clients not connected")
    if last > BOUND_S:
        problems.append(f"the last client connected after {last:.2f} s, over the {BOUND_S} s bound")
    if failures:
        problems.append(f"failures other than 503 with Retry-After: {dict(failures)}")
    if any(not 1 <= seconds <= 60 for seconds in retry_after):
        problems.append(f"Retry-After outside 1..60 s: {spread}")
    if rejected_rate != refused:
        problems.append(f"server counted {rejected_rate:.0f} rate rejections, clients {refused} 503s")
    if rejected_other:
        problems.append(f"{rejected_other:.0f} rejections for other reasons")
    if open_during < clients + 1:
        problems.append(f"chorus_connections {open_during:.0f} with every client connected, want {clients + 1}")
    if canary.published < 20 or canary.offsets != expected or canary.publish_errors:
        problems.append(f"canary: published {canary.published}, errors {canary.publish_errors[:3]}, "
                        f"received {len(canary.offsets)}, in order {canary.offsets == expected}")
    if os.environ.get("STORM_VERBOSE"):
        print("connected per second:", sorted(Counter(int(t) for t in connected_at).items()))
    if problems:
        print("FAIL: " + "; ".join(problems))
        sys.exit(1)


if __name__ == "__main__":
    main()
