/// One entry of a token's channel permissions: an exact channel name (`news`), a prefix pattern (`user.42.*`,
/// every channel whose name starts with `user.42.`), or `*` (every channel).
public enum ChannelPattern: Hashable, Sendable, CustomStringConvertible {
    case exact(ChannelName)
    /// Names starting with this prefix, which ends with the `.` before the `*`.
    case prefix(String)
    case any

    /// Parses `news`, `user.42.*` or `*`; nil for anything else (a `*` elsewhere, an invalid name).
    public init?(_ text: some StringProtocol) {
        if text == "*" {
            self = .any
        } else if text.hasSuffix(".*") {
            // The prefix itself must be a valid channel name (with its dot), so patterns use the same alphabet.
            // `.*` alone would be a pattern for names starting with a dot: refused as almost surely a mistake.
            let prefix = text.dropLast()
            guard prefix.count > 1, (try? ChannelName(validating: prefix)) != nil else { return nil }
            self = .prefix(String(prefix))
        } else if let name = try? ChannelName(validating: text) {
            self = .exact(name)
        } else {
            return nil
        }
    }

    /// True if `channel` is covered by this pattern.
    public func matches(_ channel: ChannelName) -> Bool {
        switch self {
        case .exact(let name): name == channel
        case .prefix(let prefix): channel.value.count > prefix.count && channel.value.hasPrefix(prefix)
        case .any: true
        }
    }

    public var description: String {
        switch self {
        case .exact(let name): name.value
        case .prefix(let prefix): prefix + "*"
        case .any: "*"
        }
    }
}

extension Array where Element == ChannelPattern {
    /// True if any pattern covers `channel`.
    package func allows(_ channel: ChannelName) -> Bool {
        self.contains { $0.matches(channel) }
    }
}
