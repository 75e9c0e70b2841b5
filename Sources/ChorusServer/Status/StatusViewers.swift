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
    package func admit(inner: (any OwnAdmissionPlace)?) -> any OwnAdmissionPlace {
        self.open.withLockedValue { $0 += 1 }
        return StatusViewerPlace(viewers: self, inner: inner)
    }

    /// Uncounts a feed connection that went (`StatusViewerPlace.release`).
    func leave() {
        self.open.withLockedValue { $0 -= 1 }
    }
}
