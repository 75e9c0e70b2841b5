// chorus.js against a real Chorus: `CHORUS_BIN=path/to/chorus node --experimental-websocket --test test/`
// (scripts/check-js.sh BIN runs it). Starts the binary on a free loopback port with --history-size 100 and publishes
// over HTTP; then, when Chromium is installed, the same in a real browser page. Bounded: each wait fails after 10 s.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer as createHTTPServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { after, describe, test } from "node:test";

import { Chorus } from "../chorus.js";

const binary = process.env.CHORUS_BIN;
const skip = !binary
    ? "CHORUS_BIN is not set: the end-to-end tests need a chorus binary (scripts/check-js.sh BIN)"
    : typeof WebSocket === "undefined"
      ? "no global WebSocket: run Node 20 with --experimental-websocket"
      : false;
if (skip) console.log(`# SKIP chorus.js end-to-end: ${skip}`);

const CHANNEL = "news";
const backoff = { initial: 20, max: 200 };

class Server {
    constructor(args) {
        this.args = args;
        this.process = null;
    }

    async start(port) {
        this.port = port ?? (await freePort());
        this.output = "";
        this.process = spawn(binary, ["--host", "127.0.0.1", "--port", String(this.port), ...this.args], {
            stdio: ["ignore", "pipe", "pipe"],
        });
        for (const stream of [this.process.stdout, this.process.stderr]) {
            stream.on("data", (chunk) => (this.output += chunk));
        }
        const exited = new Promise((resolve) => this.process.once("exit", resolve));
        this.exited = exited;
        // Readiness has no event to wait on from outside: poll /readyz, as a load balancer would.
        const deadline = Date.now() + 20_000;
        while (Date.now() < deadline) {
            if (this.process.exitCode !== null) throw new Error(`chorus exited at start:\n${this.output}`);
            try {
                if ((await this.fetch("/readyz")).ok) return;
            } catch {
                await new Promise((resolve) => setTimeout(resolve, 50));
            }
        }
        throw new Error(`chorus not ready within 20 s:\n${this.output}`);
    }

    async stop() {
        if (!this.process || this.process.exitCode !== null) return;
        this.process.kill("SIGTERM");
        await within(this.exited, "chorus to exit");
    }

    /**
     * A request on a connection of its own: Node's fetch and WebSocket share a connection pool, and Chorus does not
     * take a WebSocket handshake on a connection that already served a plain request.
     */
    fetch(path, init = {}) {
        const headers = { ...init.headers, Connection: "close" };
        return fetch(`http://127.0.0.1:${this.port}${path}`, { ...init, headers });
    }

    get url() {
        return `ws://127.0.0.1:${this.port}/ws`;
    }

    async publish(body, contentType = "text/plain") {
        const response = await this.fetch(`/publish/${CHANNEL}`, {
            method: "POST",
            headers: { "Content-Type": contentType },
            body,
        });
        assert.equal(response.status, 200, await response.clone().text());
        return response.json();
    }
}

/** What a subscription received, with a promise per count reached. */
class Inbox {
    messages = [];
    #waiters = [];

    add = (data, meta) => {
        this.messages.push({ data, ...meta });
        this.#waiters = this.#waiters.filter(([count, resolve]) => this.messages.length < count || void resolve());
    };

    count(count) {
        if (this.messages.length >= count) return Promise.resolve();
        return within(new Promise((resolve) => this.#waiters.push([count, resolve])), `${count} messages`);
    }

    get offsets() {
        return this.messages.map((message) => message.offset);
    }
}

function within(promise, what, ms = 10_000) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function nextEvent(client, event, predicate = () => true, ms = 10_000) {
    return within(
        new Promise((resolve) => {
            const off = client.on(event, (value) => {
                if (!predicate(value)) return;
                off();
                resolve(value);
            });
        }),
        `the ${event} event`,
        ms
    );
}

function freePort() {
    return new Promise((resolve, reject) => {
        const server = createServer().listen(0, "127.0.0.1", () => {
            const { port } = server.address();
            server.close(() => resolve(port));
        });
        server.on("error", reject);
    });
}

function signedToken(secret, claims) {
    const encode = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const input = `${encode({ alg: "HS256", typ: "JWT" })}.${encode(claims)}`;
    return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

describe("chorus.js against a real server", { skip }, () => {
    const servers = [];
    const clients = [];
    after(async () => {
        clients.forEach((client) => client.close());
        await Promise.all(servers.map((server) => server.stop()));
    });

    test("deliveries with metadata, client publish, a dropped connection resumed, a restart reported", async () => {
        const server = new Server(["--history-size", "100", "--client-publish", "--drain-timeout", "1s"]);
        servers.push(server);
        await server.start();

        // The connections are the real WebSocket's; `held` refuses new ones, so messages can be missed for sure.
        let held = false;
        const sockets = [];
        class HeldWebSocket extends WebSocket {
            constructor(url, protocols) {
                if (held) throw new Error("held by the test");
                super(url, protocols);
                sockets.push(this);
            }
        }
        const client = new Chorus(server.url, { WebSocket: HeldWebSocket, backoff });
        clients.push(client);
        const inbox = new Inbox();
        const subscribed = nextEvent(client, "subscribed");
        client.subscribe(CHANNEL, inbox.add);
        assert.equal((await subscribed).recovered, false);

        // Deliveries: JSON, text and binary, with the offset and epoch the publish answered.
        const first = await server.publish('{"price":42}', "application/json");
        const epoch = first.epoch;
        assert.equal(first.offset, 1);
        await server.publish("plain text");
        await server.publish(new Uint8Array([0, 1, 2, 255]), "application/octet-stream");
        await inbox.count(3);
        assert.deepEqual(inbox.messages, [
            { data: { price: 42 }, channel: CHANNEL, offset: 1, epoch },
            { data: "plain text", channel: CHANNEL, offset: 2, epoch },
            { data: new Uint8Array([0, 1, 2, 255]), channel: CHANNEL, offset: 3, epoch },
        ]);

        // Publishing from the client: echoed by default, not with echo:false (offset 5 is then skipped here).
        assert.equal(client.publish(CHANNEL, { from: "client" }), true);
        assert.equal(client.publish(CHANNEL, "not echoed", { echo: false }), true);
        await inbox.count(4);
        assert.equal((await server.publish("six")).offset, 6);
        await inbox.count(5);
        assert.deepEqual(inbox.messages.slice(3), [
            { data: { from: "client" }, channel: CHANNEL, offset: 4, epoch },
            { data: "six", channel: CHANNEL, offset: 6, epoch },
        ]);

        // The socket closed under the client, the server up: exactly the missed messages, then live ones.
        held = true;
        const disconnected = nextEvent(client, "state", (state) => state === "disconnected");
        sockets.at(-1).close();
        await disconnected;
        for (let n = 7; n <= 11; n++) assert.equal((await server.publish(`missed ${n}`)).offset, n);
        const recovery = nextEvent(client, "recovery");
        held = false;
        assert.deepEqual(await recovery, { channel: CHANNEL, recovered: true, offset: 11, epoch });
        await inbox.count(10);
        await server.publish("live 12");
        await inbox.count(11);
        assert.deepEqual(inbox.offsets, [1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12]);
        assert.deepEqual(
            inbox.messages.slice(5, 10).map((message) => message.data),
            ["missed 7", "missed 8", "missed 9", "missed 10", "missed 11"]
        );

        // A restart loses the in-memory stream: a new epoch, recovered:false, and messages flow again.
        const down = nextEvent(client, "state", (state) => state === "disconnected");
        await server.stop();
        await down;
        const reset = nextEvent(client, "recovery");
        await server.start(server.port);
        const answer = await reset;
        assert.equal(answer.recovered, false);
        assert.notEqual(answer.epoch, epoch);
        const restarted = await server.publish("after the restart");
        assert.deepEqual([restarted.offset, restarted.epoch], [answer.offset + 1, answer.epoch]);
        await inbox.count(12);
        assert.deepEqual(inbox.messages.at(-1), {
            data: "after the restart",
            channel: CHANNEL,
            offset: restarted.offset,
            epoch: restarted.epoch,
        });
        assert.equal(client.state, "connected");
        client.close();
    });

    test("tokens: the subprotocol admits, a channel outside the token is refused, an expiry is renewed", async () => {
        const secret = "0123456789abcdef0123456789abcdef";
        const server = new Server(["--history-size", "100", "--jwt-secret", secret]);
        servers.push(server);
        await server.start();
        const now = Math.floor(Date.now() / 1000);
        const claims = { sub: "user-42", channels: [CHANNEL] };
        // Expires in ~2 s: the client asks for the next one in advance, the server closes with 1008 "token expired".
        const first = signedToken(secret, { ...claims, exp: now + 2 });
        const issued = [];
        const getToken = async () => {
            issued.push(signedToken(secret, { ...claims, exp: Math.floor(Date.now() / 1000) + 3600 }));
            return issued.at(-1);
        };
        const client = new Chorus(server.url, { token: first, getToken, backoff });
        clients.push(client);
        const errors = [];
        client.on("error", (error) => errors.push(error));

        const inbox = new Inbox();
        const subscribed = nextEvent(client, "subscribed");
        client.subscribe(CHANNEL, inbox.add);
        const refused = nextEvent(client, "error");
        client.subscribe("secret", () => {});
        await subscribed;
        assert.deepEqual(await refused, {
            type: "request",
            error: "forbidden",
            reason: "not allowed to subscribe to this channel",
            channel: "secret",
        });
        const { epoch } = await server.publish("before expiry");
        await inbox.count(1);

        const recovery = nextEvent(client, "recovery", ({ channel }) => channel === CHANNEL);
        assert.deepEqual(await recovery, { channel: CHANNEL, recovered: true, offset: 1, epoch });
        assert.equal(issued.length, 1, "one fresh token, fetched before the expiry");
        assert.deepEqual(errors, [await refused]);
        await server.publish("after renewal");
        await inbox.count(2);
        assert.deepEqual(inbox.offsets, [1, 2]);
        client.close();
    });

    // The server's side of the contract (a plain GET of a subscriber path answers 401/403/503 like the upgrade
    // would) is built in parallel: reported, not failing, until it is in.
    const contract = "plain GETs of /ws answered like the upgrade (the server side of the handshake contract)";
    test("a refused token: one probe learns the 401, and the client stops", { todo: contract }, async () => {
        const secret = "0123456789abcdef0123456789abcdef";
        const server = new Server(["--jwt-secret", secret]);
        servers.push(server);
        await server.start();
        const token = signedToken(secret, { sub: "user-42", channels: [CHANNEL], exp: 1_000_000_000 });
        const client = new Chorus(server.url, { token, backoff });
        clients.push(client);
        const [error] = await Promise.all([
            nextEvent(client, "error", () => true, 3_000),
            nextEvent(client, "state", (state) => state === "failed", 3_000),
        ]);
        assert.deepEqual(error, { type: "handshake", status: 401 });
    });
});

// MARK: A real browser

/** Chromium (CHORUS_CHROMIUM, or chromium / chromium-browser / google-chrome on PATH), or null. */
function findChromium() {
    if (process.env.CHORUS_CHROMIUM) return process.env.CHORUS_CHROMIUM;
    for (const directory of (process.env.PATH ?? "").split(delimiter)) {
        for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
            if (existsSync(join(directory, name))) return join(directory, name);
        }
    }
    return null;
}

const chromium = skip ? null : findChromium();
const browserSkip = skip || (chromium ? false : "no Chromium (apt-get install chromium, or set CHORUS_CHROMIUM)");
if (!skip && browserSkip) console.log(`# SKIP chorus.js in a browser: ${browserSkip}`);

/**
 * The page, from an origin other than Chorus's: it imports GET /chorus.js from Chorus, follows the channel and
 * tells the test what happened through `page` (a promise per condition: no polling).
 */
const pageHTML = `<!doctype html><meta charset="utf-8"><script type="module">
const chorusURL = new URLSearchParams(location.search).get("chorus");
const { Chorus } = await import(chorusURL.replace("ws:", "http:").replace("/ws", "/chorus.js"));
const sockets = [];
class TrackedWebSocket extends WebSocket {
    constructor(url, protocols) { super(url, protocols); sockets.push(this); }
}
const waiters = [];
const check = () => waiters.splice(0).forEach(([condition, resolve]) =>
    condition() ? resolve(true) : waiters.push([condition, resolve]));
const page = { received: [], events: [], sockets };
page.until = (condition) => new Promise((resolve) => { waiters.push([condition, resolve]); check(); });
// Reconnects exactly 500 ms after a drop: time for the test to publish what the page then recovers.
const backoff = { initial: 500, max: 500 };
page.client = new Chorus(chorusURL, { WebSocket: TrackedWebSocket, backoff, random: () => 1 });
for (const event of ["state", "subscribed", "recovery", "error"]) {
    page.client.on(event, (value) => { page.events.push({ event, value }); check(); });
}
page.client.subscribe("${CHANNEL}", (data, meta) => {
    page.received.push({ data: data instanceof Uint8Array ? { bytes: [...data] } : data, ...meta });
    check();
});
window.page = page;
check();
</script>`;

/** A Chrome DevTools Protocol session on one page, over Node's WebSocket. */
class Browser {
    async start(url) {
        this.profile = mkdtempSync(join(tmpdir(), "chorus-js-browser-"));
        const args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"];
        args.push("--remote-debugging-port=0", `--user-data-dir=${this.profile}`, "about:blank");
        this.process = spawn(chromium, args, { stdio: ["ignore", "ignore", "pipe"] });
        this.exited = new Promise((resolve) => this.process.once("exit", resolve));
        let output = "";
        const endpoint = await within(
            new Promise((resolve) => {
                this.process.stderr.on("data", (chunk) => {
                    output += chunk;
                    const match = output.match(/DevTools listening on (ws:\/\/\S+)/);
                    if (match) resolve(match[1]);
                });
            }),
            "Chromium's DevTools endpoint"
        );
        this.socket = new WebSocket(endpoint);
        this.pending = new Map();
        this.nextID = 1;
        this.socket.onmessage = ({ data }) => {
            const message = JSON.parse(data);
            const call = this.pending.get(message.id);
            if (!call) return;
            this.pending.delete(message.id);
            if (message.error) call.reject(new Error(JSON.stringify(message.error)));
            else call.resolve(message.result);
        };
        await within(new Promise((resolve) => (this.socket.onopen = resolve)), "the DevTools connection");
        const { targetId } = await this.send("Target.createTarget", { url: "about:blank" });
        ({ sessionId: this.session } = await this.send("Target.attachToTarget", { targetId, flatten: true }));
        // Answered once the page's document is committed: evaluations then run in it, not in about:blank.
        await this.send("Page.navigate", { url }, this.session);
    }

    send(method, params = {}, sessionId) {
        const id = this.nextID++;
        this.socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
        return within(new Promise((resolve, reject) => this.pending.set(id, { resolve, reject })), method);
    }

    /** The value of `expression` in the page (awaited when it is a promise), once `window.page` exists. */
    async evaluate(expression) {
        const wrapped = `(async () => {
            while (!window.page) await new Promise((resolve) => setTimeout(resolve, 10));
            return (${expression});
        })()`;
        const params = { expression: wrapped, awaitPromise: true, returnByValue: true };
        const { result, exceptionDetails } = await this.send("Runtime.evaluate", params, this.session);
        if (exceptionDetails) throw new Error(`in the page: ${JSON.stringify(exceptionDetails)}`);
        return result.value;
    }

    async stop() {
        this.socket?.close();
        if (this.process && this.process.exitCode === null) {
            this.process.kill("SIGTERM");
            await within(this.exited, "Chromium to exit");
        }
        if (this.profile) rmSync(this.profile, { recursive: true, force: true });
    }
}

describe("chorus.js in a real browser (Chromium, headless)", { skip: browserSkip }, () => {
    const cleanups = [];
    after(async () => {
        for (const cleanup of cleanups.reverse()) await cleanup();
    });

    test("loaded from GET /chorus.js by a page of another origin: deliveries, a dropped socket resumed", async () => {
        const server = new Server(["--history-size", "100", "--drain-timeout", "1s"]);
        cleanups.push(() => server.stop());
        await server.start();
        const site = createHTTPServer((_, response) => {
            response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
            response.end(pageHTML);
        });
        await new Promise((resolve) => site.listen(0, "127.0.0.1", resolve));
        cleanups.push(() => new Promise((resolve) => site.close(resolve)));
        const browser = new Browser();
        cleanups.push(() => browser.stop());
        const chorusURL = encodeURIComponent(server.url);
        await browser.start(`http://127.0.0.1:${site.address().port}/?chorus=${chorusURL}`);

        await browser.evaluate(`page.until(() => page.events.some(({ event }) => event === "subscribed"))`);
        const { epoch } = await server.publish('{"price":42}', "application/json");
        await server.publish(new Uint8Array([0, 1, 255]), "application/octet-stream");
        await browser.evaluate("page.until(() => page.received.length === 2)");

        // The socket closed under the client; messages published meanwhile are recovered after the reconnect.
        await browser.evaluate("page.sockets.at(-1).close()");
        for (const n of [3, 4, 5]) await server.publish(`missed ${n}`);
        await browser.evaluate(`page.until(() => page.events.some(({ event }) => event === "recovery"))`);
        await browser.evaluate("page.until(() => page.received.length === 5)");
        assert.deepEqual(await browser.evaluate("page.received"), [
            { data: { price: 42 }, channel: CHANNEL, offset: 1, epoch },
            { data: { bytes: [0, 1, 255] }, channel: CHANNEL, offset: 2, epoch },
            { data: "missed 3", channel: CHANNEL, offset: 3, epoch },
            { data: "missed 4", channel: CHANNEL, offset: 4, epoch },
            { data: "missed 5", channel: CHANNEL, offset: 5, epoch },
        ]);
        const events = await browser.evaluate("page.events");
        const recovery = events.find(({ event }) => event === "recovery").value;
        assert.deepEqual([recovery.channel, recovery.recovered, recovery.epoch], [CHANNEL, true, epoch]);
        assert.deepEqual(
            events.filter(({ event }) => event === "state").map(({ value }) => value),
            ["connecting", "connected", "disconnected", "connecting", "connected"]
        );
        assert.deepEqual(events.filter(({ event }) => event === "error"), []);
    });
});
