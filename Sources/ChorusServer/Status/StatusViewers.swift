import ChorusCore
import NIOConcurrencyHelpers

/// The status page's live-feed connections open now: the status report is gathered and published only while
/// there is one, so a server nobody watches does nothing for its status page.
package final class StatusViewers: Sendable {
    private let open = NIOLockedValueBox(0)

    package init() {}

    /// Feed connections open now.
    package var count: Int { self.open.withLockedValue { $0 } }

    /// Counts a feed connection being admitted; the place returned uncounts it when the connection goes, and gives
    /// back `inner` (its client address's place, under a per-address limit) too.
    ///
    /// A feed connection speaks `chorus.v1`, but is left out of `hub`'s count of such connections: otherwise watching
    /// the page would make every publish on the server encode a `chorus.v1` rendition nobody else needs. Its only
    /// channel's reports are encoded by each shard instead, when it delivers them (see `Shard.deliver`).
    package func admit(inner: (any OwnAdmissionPlace)?, hub: Hub) -> any OwnAdmissionPlace {
        self.open.withLockedValue { $0 += 1 }
        return StatusViewerPlace(viewers: self, inner: inner, hub: hub)
    }

    /// Uncounts a feed connection that went (`StatusViewerPlace.release`).
    func leave() {
        self.open.withLockedValue { $0 -= 1 }
    }
}
