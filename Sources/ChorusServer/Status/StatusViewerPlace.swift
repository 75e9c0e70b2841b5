import ChorusCore

/// A live-feed connection's place among the status page's viewers, held with its admission ticket and released
/// exactly once by the transport (see `AdmissionPlaces`).
///
/// It also takes the connection out of the hub's count of `chorus.v1` connections for its lifetime (see
/// `StatusViewers.admit`): one less here, which the connection's opening adds back, and one more at release, which
/// its release took away. Places are given back exactly once, whether the connection opened or not, so the count
/// is never left off; in between it may read one low, and a shard then encodes the rendition itself.
final class StatusViewerPlace: OwnAdmissionPlace {
    private let viewers: StatusViewers
    private let inner: (any OwnAdmissionPlace)?
    private let hub: Hub

    init(viewers: StatusViewers, inner: (any OwnAdmissionPlace)?, hub: Hub) {
        self.viewers = viewers
        self.inner = inner
        self.hub = hub
        hub.chorusV1ConnectionClosed()
    }

    func release() {
        self.hub.chorusV1ConnectionOpened()
        self.viewers.leave()
        self.inner?.release()
    }
}
