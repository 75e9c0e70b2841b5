import ChorusCore
import NIOHTTP1

extension HTTPRejection {
    /// A request naming a system channel (`ChannelName.isSystem`): only Chorus publishes to them, and only the
    /// status page's feed follows them.
    package static let systemChannel = HTTPRejection(
        .forbidden,
        "channels starting with \(ChannelName.systemPrefix) are reserved for Chorus",
        handshake: .forbidden
    )
}
