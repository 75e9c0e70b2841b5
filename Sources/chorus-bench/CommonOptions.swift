import ArgumentParser

/// Options both scenarios share: where the server is, how the client connects, where results go.
struct CommonOptions: ParsableArguments {
    @Option(help: "WebSocket URL of the server; the channel is the last path component of /ws/{channel}.")
    var url = "ws://127.0.0.1:8080/ws/bench"

    @Option(
        name: .customLong("protocol"),
        help: """
            What the subscribers speak: raw (no subprotocol; each frame is the published payload) or chorus.v1 \
            (offers Sec-WebSocket-Protocol: chorus.v1, requires it in the 101, skips the server's text control \
            messages and each delivery's header, and checks that offsets grow by one).
            """
    )
    var wireProtocol = WireProtocol.raw

    @Option(help: "Spread connections over source addresses 127.0.0.1 … 127.0.0.N (about 28,000 per address).")
    var sourceAddresses = 1

    @Option(
        help: "Client event loops (threads). One is enough for 18,000 connections and keeps the client on one core."
    )
    var threads = 1

    @Option(help: "Connections being opened at once.")
    var connectWindow = 256

    @Option(help: "Receive buffer per read and connection, in bytes (a fixed-size allocator).")
    var receiveBuffer = 512

    @Option(help: "Seconds a TCP connect may take.")
    var connectTimeout = 10

    @Option(help: "Port of the server's /metrics if it is not the WebSocket port (--metrics-port of chorus).")
    var metricsPort: Int?

    @Option(help: "The server's process id: its user and system CPU are read from /proc/<pid>/stat.")
    var serverPid: Int32?

    @Option(help: "A label stored in the JSON result (for example the allocator under test).")
    var label = ""

    @Option(help: "Write the JSON result to this file instead of standard output.")
    var json: String?

    @Flag(help: "No live progress line.")
    var quiet = false
}
