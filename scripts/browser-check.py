#!/usr/bin/env python3
"""Chorus in a real browser: headless Chromium driven by selenium, against real servers on loopback.

    python3 scripts/browser-check.py path/to/chorus [--screenshot docs/status-page.png]

Needs Debian's chromium and chromium-driver and PyPI selenium (scripts/browser-check.requirements.txt), and
redis-server for the cluster case. Each case starts its own servers on free loopback ports and stops them:
  1. the status page (--status-page --metrics-token): it renders, and its data-stat figures move while the script
     publishes over HTTP to a few subscribers (with --screenshot, a PNG of it under that load);
  2. a test page using the server's /chorus.js receives messages with their channel, offsets and epoch, rides out
     a server restart and reports the channel was not recovered (a new epoch);
  3. two nodes sharing a real redis-server (--history-size): the page fails over to the second node when the first
     is stopped and recovers every message it missed, each offset exactly once and in order;
  4. throughout, the browser console holds no SEVERE entry, save the browser's own reports of connections refused
     by a server this script had just stopped (chorus.js's WebSocket, and the GET it sends after a failed handshake).
Loopback only; about 30 s.
"""
import argparse
import base64
import http.client
import http.server
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

TOKEN = "peek-at-status"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fail(message):
    raise SystemExit(f"FAIL: {message}")


def wait_for(what, predicate, timeout=10.0, interval=0.05):
    """Polls `predicate` until it returns something truthy, and returns that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Server:
    """One chorus process on loopback; the same port across restarts."""

    def __init__(self, binary, log, *args, port=None):
        self.binary, self.log, self.args = binary, log, list(args)
        self.port = port or free_port()
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "--host", "127.0.0.1", "--port", str(self.port), "--event-loops", "1",
             "--drain-timeout", "1s", "--log-level", "warning", *self.args],
            stdout=self.log, stderr=subprocess.STDOUT,
        )

        def ready():
            if self.process.poll() is not None:
                fail(f"chorus exited with {self.process.returncode} at start (see {self.log.name})")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1):
                    return True
            except OSError:
                return False

        wait_for(f"chorus on port {self.port} to be ready", ready, timeout=20)
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def publish(self, channel, body, connection=None):
        own = connection is None
        connection = connection or http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        connection.request("POST", f"/publish/{channel}", body=body.encode(), headers={"Content-Type": "text/plain"})
        response = connection.getresponse()
        answer = response.read()
        if own:
            connection.close()
        if response.status != 200:
            fail(f"publish to {channel} on port {self.port}: {response.status} {answer!r}")
        return json.loads(answer)

    def metric(self, name, token=None):
        request = urllib.request.Request(self.url + "/metrics")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=5) as response:
            text = response.read().decode()
        match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
        return float(match.group(1)) if match else 0.0


class Subscriber:
    """A raw WebSocket subscriber (standard library only) that reads and discards what it receives."""

    def __init__(self, port, channel):
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        self.socket.sendall(
            (f"GET /ws/{channel} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.socket.recv(4096)
        if not head.startswith(b"HTTP/1.1 101"):
            fail(f"subscriber refused: {head[:80]!r}")
        self.received = 0
        self.socket.settimeout(None)
        threading.Thread(target=self.drain, daemon=True).start()

    def drain(self):
        try:
            while chunk := self.socket.recv(65536):
                self.received += len(chunk)
        except OSError:
            pass

    def close(self):
        self.socket.close()


class Browser:
    def __init__(self):
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--window-size=1120,860", "--hide-scrollbars"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        # Refused connections to servers this script stopped on purpose (the browser's own console report).
        self.expected_refusals = set()
        self.console = []

    def collect_console(self):
        for entry in self.driver.get_log("browser"):
            self.console.append(entry)
            if entry["level"] != "SEVERE":
                continue
            message = entry["message"]
            # The WebSocket's failure, and the failed GET chorus.js sends after it to learn why.
            refused = re.search(r"WebSocket connection to 'ws://127\.0\.0\.1:(\d+)/[^']*' failed: .*"
                                r"net::ERR_CONNECTION_REFUSED", message) or re.match(
                r"http://127\.0\.0\.1:(\d+)/\S* - Failed to load resource: net::ERR_CONNECTION_REFUSED", message)
            if refused and int(refused.group(1)) in self.expected_refusals:
                continue
            fail(f"browser console: {message}")

    def check_console_is_read(self):
        """The console check can fail: an error the page logs must come back as a SEVERE entry."""
        self.driver.get("data:text/html,<title>canary</title>")
        self.driver.execute_script("console.error('browser-check canary')")
        entries = self.driver.get_log("browser")
        if not any(e["level"] == "SEVERE" and "browser-check canary" in e["message"] for e in entries):
            fail(f"console.error did not reach the browser log: {entries}")

    def leave(self):
        """Closes the page (and its connections) before its servers stop, then reads the console."""
        self.driver.get("about:blank")
        self.collect_console()

    def stat(self, name):
        return self.driver.execute_script(
            "var e = document.querySelector('[data-stat=\"' + arguments[0] + '\"]');"
            "return e && e.dataset.value !== undefined ? Number(e.dataset.value) : null;", name)

    def events(self):
        return self.driver.execute_script("return window.events || []")

    def quit(self):
        self.driver.quit()


TEST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>chorus.js check</title><link rel="icon" href="data:,"></head>
<body><script type="module">
import { Chorus } from "/chorus.js";
window.events = [];
var urls = %(urls)s;
var chorus = new Chorus(urls.length === 1 ? urls[0] : urls);
chorus.on("state", function (state) { events.push({type: "state", state: String(state)}); });
chorus.on("recovery", function (r) {
  events.push({type: "recovery", channel: r.channel, recovered: r.recovered, offset: r.offset, epoch: r.epoch});
});
chorus.on("error", function (e) { events.push({type: "error", message: String(e && e.message || e)}); });
chorus.subscribe(%(channel)s, function (data, meta) {
  events.push({type: "message", data: data, channel: meta.channel, offset: meta.offset, epoch: meta.epoch});
});
</script></body></html>
"""


class PageServer:
    """Serves the test pages over http.server on loopback, with the server's own /chorus.js beside them (an ES
    module: imported from another origin it would need CORS headers)."""

    def __init__(self):
        self.pages = {}
        pages = self.pages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = pages.get(self.path.split("?")[0])
                self.send_response(200 if body else 404)
                kind = "text/javascript" if self.path.endswith(".js") else "text/html"
                self.send_header("Content-Type", kind + "; charset=utf-8")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def page(self, path, chorus_js, urls, channel):
        with urllib.request.urlopen(chorus_js, timeout=5) as response:
            if "javascript" not in response.headers.get("Content-Type", ""):
                fail(f"{chorus_js} is served as {response.headers.get('Content-Type')}")
            self.pages["/chorus.js"] = response.read()
        self.pages[path] = (TEST_PAGE % {"urls": json.dumps(urls), "channel": json.dumps(channel)}).encode()
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def close(self):
        self.server.shutdown()


def messages(browser, channel):
    return [e for e in browser.events() if e["type"] == "message" and e["channel"] == channel]


def check_offsets(received, first, last, epoch, what):
    offsets = [m["offset"] for m in received]
    if offsets != list(range(first, last + 1)):
        fail(f"{what}: offsets {offsets}, expected {first}..{last} exactly once and in order")
    if any(m["epoch"] != epoch for m in received):
        fail(f"{what}: epochs {sorted({m['epoch'] for m in received})}, expected {epoch}")


def status_page(binary, browser, log, screenshot):
    server = Server(binary, log, "--status-page", "--metrics-token", TOKEN).start()
    subscribers = []
    try:
        driver = browser.driver
        with urllib.request.urlopen(server.url + "/status?token=" + TOKEN, timeout=5) as response:
            if "text/html" not in response.headers["Content-Type"]:
                fail("/status is not HTML")
        driver.get(server.url + "/status?token=" + TOKEN)
        wait_for("the status page's first report", lambda: browser.stat("connections") is not None, timeout=5)
        idle = {name: browser.stat(name) for name in ("connections", "deliveries_per_second", "channels")}
        subscribers = [Subscriber(server.port, channel) for channel in ("news", "news", "news", "sport", "sport")]

        stop = threading.Event()

        def load():
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            count = 0
            while not stop.is_set():
                server.publish("news" if count % 3 else "sport", '{"price":%d}' % count, connection)
                count += 1
                time.sleep(0.004)

        loader = threading.Thread(target=load, daemon=True)
        loader.start()
        try:
            moving = wait_for(
                "deliveries per second, connections and channels to move under load",
                lambda: (browser.stat("deliveries_per_second") or 0) > 50 and browser.stat("connections") == 6
                and browser.stat("channels") == 2 and browser.stat("buffer_reuse") > 1
                and browser.stat("busiest_channels") == 2 and browser.stat("deliveries_per_second"),
                timeout=6,
            )
            memory = browser.stat("memory_per_connection")
            if memory is None or memory < 0:
                fail(f"memory_per_connection is {memory}")
            busiest = driver.execute_script(
                "return Array.from(document.querySelectorAll('[data-stat=\"busiest_channels\"] tbody td:first-child'))"
                ".map(function (c) { return c.textContent; })")
            if busiest[:1] != ["news"]:
                fail(f"busiest channels {busiest}, expected news first")
            if screenshot:
                time.sleep(8)  # a few seconds of the sparkline under load
                driver.save_screenshot(screenshot)
                size = os.path.getsize(screenshot)
                if size > 200_000:
                    fail(f"screenshot {screenshot} is {size} bytes (over 200 KB)")
                print(f"  screenshot: {screenshot} ({size} bytes)")
        finally:
            stop.set()
            loader.join()
        print(f"  status page: idle {idle}, under load {moving:.0f} deliveries/s, busiest {busiest}")
        browser.leave()
    finally:
        for subscriber in subscribers:
            subscriber.close()
        server.stop()


def restart(binary, browser, log, pages):
    server = Server(binary, log, "--history-size", "100").start()
    try:
        url = pages.page("/restart.html", server.url + "/chorus.js", ["ws://127.0.0.1:%d/ws" % server.port], "news")
        browser.driver.get(url)
        wait_for("the page's subscription", lambda: server.metric("chorus_subscriptions") == 1)
        epoch = None
        for n in range(1, 6):
            epoch = server.publish("news", f"message {n}")["epoch"]
        received = wait_for("five messages", lambda: (m := messages(browser, "news")) and len(m) >= 5 and m)
        check_offsets(received, 1, 5, epoch, "before the restart")
        if [m["data"] for m in received] != [f"message {n}" for n in range(1, 6)]:
            fail(f"payloads {[m['data'] for m in received]}")

        browser.expected_refusals.add(server.port)
        server.stop()
        server.start()
        recovery = wait_for(
            "a recovery event after the restart",
            lambda: [e for e in browser.events() if e["type"] == "recovery" and e["channel"] == "news"],
            timeout=15,
        )[-1]
        wait_for("the page's subscription on the new server", lambda: server.metric("chorus_subscriptions") == 1)
        new_epoch = server.publish("news", "after restart")["epoch"]
        if recovery["recovered"] is not False or recovery["epoch"] != new_epoch or new_epoch == epoch:
            fail(f"after a restart the page must report recovered:false in the new epoch {new_epoch}: {recovery}")
        after = wait_for("the message after the restart", lambda: messages(browser, "news")[5:])
        check_offsets(after, 1, 1, new_epoch, "after the restart")
        print(f"  restart: offsets 1-5 in {epoch}, then recovered:false, offset 1 in {new_epoch}")
        browser.leave()
    finally:
        server.stop()


def failover(binary, browser, log, pages):
    redis_port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    nodes = []
    try:
        wait_for("redis-server", lambda: subprocess.run(
            ["redis-cli", "-p", str(redis_port), "ping"], capture_output=True, text=True).stdout.strip() == "PONG")
        cluster = ("--redis", f"redis://127.0.0.1:{redis_port}", "--history-size", "100")
        nodes = [Server(binary, log, *cluster).start(), Server(binary, log, *cluster).start()]
        first, second = nodes
        wait_for("both nodes connected to Redis",
                 lambda: all(node.metric("chorus_cluster_connected") == 1 for node in nodes))
        urls = [f"ws://127.0.0.1:{node.port}/ws" for node in nodes]
        browser.driver.get(pages.page("/failover.html", first.url + "/chorus.js", urls, "orders"))
        wait_for("the page's subscription on the first node", lambda: first.metric("chorus_subscriptions") == 1)
        # Until Redis confirms the node's SUBSCRIBE, a message would not reach it: publish once it has.
        wait_for("the first node's Redis subscription", lambda: subprocess.run(
            ["redis-cli", "-p", str(redis_port), "pubsub", "numsub", "chorus:orders"],
            capture_output=True, text=True).stdout.split()[-1:] == ["1"])
        epoch = None
        for n in range(1, 6):
            epoch = second.publish("orders", f"order {n}")["epoch"]
        wait_for("five messages through Redis", lambda: len(messages(browser, "orders")) >= 5)

        browser.expected_refusals.add(first.port)
        first.stop()
        # Published while the page moves to the second node: it must recover them there, from Redis.
        for n in range(6, 11):
            second.publish("orders", f"order {n}")
        received = wait_for("all ten messages after the failover",
                            lambda: (m := messages(browser, "orders")) and len(m) >= 10 and m, timeout=15)
        time.sleep(0.3)  # nothing may follow twice
        received = messages(browser, "orders")
        check_offsets(received, 1, 10, epoch, "across the failover")
        if [m["data"] for m in received] != [f"order {n}" for n in range(1, 11)]:
            fail(f"payloads {[m['data'] for m in received]}")
        recoveries = [e for e in browser.events() if e["type"] == "recovery" and e["channel"] == "orders"]
        if not recoveries or recoveries[-1]["recovered"] is not True or recoveries[-1]["epoch"] != epoch:
            fail(f"the failover must recover the channel in epoch {epoch}: {recoveries}")
        if second.metric("chorus_subscriptions") != 1:
            fail("the page is not subscribed on the second node")
        print(f"  failover: offsets 1-10 once each in {epoch}, recovered on the second node")
        browser.leave()
    finally:
        for node in nodes:
            node.stop()
        redis.terminate()
        redis.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("binary")
    parser.add_argument("--screenshot", help="save the status page under load as this PNG")
    arguments = parser.parse_args()
    for tool in ("/usr/bin/chromium", "/usr/bin/chromedriver", shutil.which("redis-server")):
        if not tool or not os.path.exists(tool):
            fail("needs chromium, chromium-driver and redis-server "
                 "(apt-get install -y --no-install-recommends chromium chromium-driver redis-server)")
    started = time.monotonic()
    with tempfile.NamedTemporaryFile("w", prefix="browser-check-", suffix=".log", delete=False) as log:
        browser = Browser()
        pages = PageServer()
        try:
            browser.check_console_is_read()
            for name, case in (("status page", lambda: status_page(arguments.binary, browser, log,
                                                                    arguments.screenshot)),
                               ("chorus.js across a restart", lambda: restart(arguments.binary, browser, log, pages)),
                               ("chorus.js fails over in a cluster",
                                lambda: failover(arguments.binary, browser, log, pages))):
                print(f"browser-check: {name}", flush=True)
                case()
        except SystemExit:
            print(f"server logs: {log.name}", file=sys.stderr)
            for entry in browser.console:
                print(f"  console {entry['level']}: {entry['message']}", file=sys.stderr)
            raise
        finally:
            pages.close()
            browser.quit()
    severe = sum(1 for entry in browser.console if entry["level"] == "SEVERE")
    print(f"browser-check: OK in {time.monotonic() - started:.1f} s "
          f"({len(browser.console)} console entries, {severe} of them expected connection refusals)")


if __name__ == "__main__":
    main()
