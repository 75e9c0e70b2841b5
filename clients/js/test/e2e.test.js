// chorus.js against a real Chorus: `CHORUS_BIN=path/to/chorus node --experimental-websocket --test test/`
// (scripts/check-js.sh BIN runs it). Starts the binary on a free loopback port with --history-size 100 and publishes
// over HTTP. Bounded: each wait fails after 10 s.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { createServer } from "node:net";
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

function nextEvent(client, event, predicate = () => true) {
    return within(
        new Promise((resolve) => {
            const off = client.on(event, (value) => {
                if (!predicate(value)) return;
                off();
                resolve(value);
            });
        }),
        `the ${event} event`
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
});
