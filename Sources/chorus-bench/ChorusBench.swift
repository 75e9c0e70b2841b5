import ArgumentParser

/// `chorus-bench`: a load generator that measures a running Chorus from the outside — memory per idle
/// connection, server CPU per delivery, publish → receive latency and loss. Benchmarks/README.md has the method.
@main
struct ChorusBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chorus-bench",
        abstract: "Load generator for Chorus: idle connections and broadcast fan-out, measured.",
        subcommands: [IdleCommand.self, BroadcastCommand.self]
    )
}
