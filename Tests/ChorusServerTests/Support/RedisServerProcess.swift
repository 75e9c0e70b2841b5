import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// A real `redis-server` on a free loopback port, started for one test and stopped after it.
///
/// Cluster tests need the real thing (Debian's `redis-server`, which `.ci/run` installs). When it is missing
/// the test fails with a message saying how to install it: it is never skipped silently.
final class RedisServerProcess: Sendable {
    let port: Int
    let binary: String
    let extraArguments: [String]
    private let process = NIOLockedValueBox<Process?>(nil)

    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "redis-server not found on PATH or in /usr/bin, /usr/local/bin: cluster tests need it "
                + "(apt-get install -y redis-server; .ci/run installs it)"
        }
    }

    struct DidNotStart: Error, CustomStringConvertible {
        var description: String
    }

    private init(port: Int, binary: String, extraArguments: [String]) {
        self.port = port
        self.binary = binary
        self.extraArguments = extraArguments
    }

    /// Starts redis-server on a free port and returns once it accepts connections.
    static func start(extraArguments: [String] = []) async throws -> RedisServerProcess {
        let server = RedisServerProcess(port: try freePort(), binary: try findBinary(), extraArguments: extraArguments)
        try await server.launch()
        return server
    }

    /// Runs `body` with a fresh redis-server and stops it afterwards, whatever happens.
    static func with<T: Sendable>(
        extraArguments: [String] = [],
        _ body: (RedisServerProcess) async throws -> T
    ) async throws -> T {
        let server = try await Self.start(extraArguments: extraArguments)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    var url: String { "redis://127.0.0.1:\(self.port)" }

    /// Starts (or restarts, after `kill`) the server on the same port. Returns once it logged that it is ready.
    func launch() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: self.binary)
        process.arguments =
            [
                "--port", String(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--daemonize", "no", "--loglevel", "notice",
            ] + self.extraArguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        // Redis prints this line once it is listening: the event to wait for, rather than polling the port.
        let ready = AsyncStream<Bool> { continuation in
            let seen = NIOLockedValueBox("")
            output.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                if data.isEmpty {
                    continuation.yield(false)
                    continuation.finish()
                    handle.readabilityHandler = nil
                    return
                }
                let text = seen.withLockedValue { text -> String in
                    text += String(decoding: data, as: UTF8.self)
                    // Keep only a tail: the marker cannot be split across more than this.
                    if text.count > 4096 { text = String(text.suffix(4096)) }
                    return text
                }
                if text.contains("Ready to accept connections") {
                    continuation.yield(true)
                }
            }
        }
        try process.run()
        self.process.withLockedValue { $0 = process }
        let started = try await withTimeout(.seconds(10)) {
            for await isReady in ready { return isReady }
            return false
        }
        guard started else {
            throw DidNotStart(description: "redis-server on port \(self.port) exited before it was ready")
        }
    }

    /// Kills the server (SIGKILL: no goodbye to clients, as in a crash) and waits for it to exit.
    func kill() async {
        guard let process = self.process.withLockedValue({ p -> Process? in defer { p = nil }; return p }) else {
            return
        }
        Glibc.kill(process.processIdentifier, SIGKILL)
        await Self.waitForExit(process)
    }

    /// Stops the server and waits for it to exit.
    func stop() async {
        await self.kill()
    }

    private static func waitForExit(_ process: Process) async {
        // Process has no async wait; waitUntilExit blocks, so it runs off the cooperative pool.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                process.waitUntilExit()
                continuation.resume()
            }
        }
    }

    static func findBinary() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/usr/sbin"] {
            let candidate = directory + "/redis-server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw Missing()
    }

    /// A port that was free a moment ago (bound to port 0 and closed again).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(fd >= 0, "socket() failed")
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
            }
        }
        precondition(bound, "could not bind a loopback socket")
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
