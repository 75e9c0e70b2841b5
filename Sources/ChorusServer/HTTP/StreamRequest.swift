import ChorusCore
import NIOHTTP1

/// What a `/ws` request target asks of its streams: `?protocol=chorus.v1` (for clients that cannot offer a
/// subprotocol) and `?since=41&epoch=k3J9aB7x` to recover its channels from that position.
package struct StreamRequest: Equatable, Sendable {
    /// The target asked for `chorus.v1`.
    package var chorusV1 = false
    /// The position to recover the target's channels from.
    package var since: StreamPosition?

    package init() {}

    /// Reads the query of `target` (other parameters are left to others). `since` and `epoch` come together, and
    /// only with `chorus.v1` — by the query or the subprotocol, which `UpgradePolicy` checks afterwards — else 400.
    package static func read(target: UnsafeRawBufferPointer) -> Result<StreamRequest, HTTPRejection> {
        var request = StreamRequest()
        var offset: Slice<UnsafeRawBufferPointer>?
        var epoch: Slice<UnsafeRawBufferPointer>?
        do throws(HTTPRejection) {
            try TargetQuery.forEach(in: target) { (name, value) throws(HTTPRejection) in
                if name.elementsEqual("protocol".utf8) {
                    guard value.elementsEqual("chorus.v1".utf8) else {
                        throw Self.rejection("unknown protocol; the one offered by query is chorus.v1")
                    }
                    request.chorusV1 = true
                } else if name.elementsEqual("since".utf8) {
                    offset = value
                } else if name.elementsEqual("epoch".utf8) {
                    epoch = value
                }
            }
        } catch {
            return .failure(error)
        }
        switch (offset, epoch) {
        case (nil, nil):
            break
        case (let offset?, let epoch?):
            guard let offset = UInt64(String(decoding: offset, as: UTF8.self)),
                let epoch = Epoch(String(decoding: epoch, as: UTF8.self))
            else {
                return .failure(Self.rejection("since must be an offset and epoch an epoch ([A-Za-z0-9_-], 1-32)"))
            }
            request.since = StreamPosition(offset: offset, epoch: epoch)
        default:
            return .failure(Self.rejection("since and epoch come together"))
        }
        return .success(request)
    }

    private static func rejection(_ reason: String) -> HTTPRejection {
        HTTPRejection(.badRequest, reason, handshake: .badRequest)
    }
}
