import Logging
import NIOConcurrencyHelpers

/// Every record a test server logs, kept for the test to read (a real swift-log `LogHandler`, at debug).
final class CapturedLogs: Sendable {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]

        /// The record as one line of text, metadata included (to check that a value appears nowhere).
        var text: String { "\(self.message) \(self.metadata.sorted { $0.key < $1.key })" }
    }

    private let records = NIOLockedValueBox([Record]())

    var all: [Record] { self.records.withLockedValue { $0 } }

    /// Records whose message is `message`.
    func records(_ message: String) -> [Record] { self.all.filter { $0.message == message } }

    func removeAll() { self.records.withLockedValue { $0 = [] } }

    fileprivate func append(_ record: Record) { self.records.withLockedValue { $0.append(record) } }

    /// A logger at debug whose records land here.
    func logger(label: String) -> Logger {
        var logger = Logger(label: label) { _ in Handler(logs: self) }
        logger.logLevel = .debug
        return logger
    }

    private struct Handler: LogHandler {
        let logs: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { self.metadata[key] }
            set { self.metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var metadata: [String: String] = [:]
            for (key, value) in self.metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
                metadata[key] = "\(value)"
            }
            self.logs.append(Record(level: event.level, message: "\(event.message)", metadata: metadata))
        }
    }
}
