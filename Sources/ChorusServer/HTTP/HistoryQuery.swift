import ChorusCore
import NIOHTTP1

/// The parameters of `GET /history/{channel}`: `since` (an offset), `epoch` and `limit`, each optional and each
/// given at most once. Other parameters are ignored. Values are not percent-decoded: valid ones never need it.
struct HistoryQuery {
    /// Messages per answer when `limit` is not given.
    static let defaultLimit = 100
    /// The largest `limit` accepted.
    static let maxLimit = 1000

    /// The offset the client last saw: the answer holds the messages after it (nil: all of history).
    var since: UInt64?
    /// The epoch `since` belongs to (nil: not checked).
    var epoch: Epoch?
    /// At most this many messages, 1...`maxLimit`.
    var limit = Self.defaultLimit

    /// Reads the query part of a request target (after `?`, nil when there is none).
    init(parsing query: Substring?) throws(HTTPRejection) {
        var seen: Set<Substring> = []
        for pair in query?.split(separator: "&", omittingEmptySubsequences: true) ?? [] {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0]
            let value = parts.count == 2 ? parts[1] : ""
            guard ["since", "epoch", "limit"].contains(name) else { continue }
            guard seen.insert(name).inserted else { throw Self.rejection("\(name) given more than once") }
            switch name {
            case "since":
                guard let since = Self.decimal(value) else {
                    throw Self.rejection("since must be an offset, 0...\(UInt64.max)")
                }
                self.since = since
            case "epoch":
                guard let epoch = Epoch(value) else {
                    throw Self.rejection("epoch must be 1-\(Epoch.maxLength) characters from [A-Za-z0-9_-]")
                }
                self.epoch = epoch
            default:
                guard let limit = Self.decimal(value), (1...UInt64(Self.maxLimit)).contains(limit) else {
                    throw Self.rejection("limit must be a number, 1...\(Self.maxLimit)")
                }
                self.limit = Int(limit)
            }
        }
    }

    /// Digits only: `UInt64("+1")` would accept a sign.
    private static func decimal(_ text: Substring) -> UInt64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            return nil
        }
        return UInt64(text)
    }

    private static func rejection(_ reason: String) -> HTTPRejection {
        HTTPRejection(.badRequest, reason)
    }
}
