import ChorusCore

/// A live-feed connection's place among the status page's viewers, held with its admission ticket and released
/// exactly once by the transport (see `AdmissionPlaces`).
final class StatusViewerPlace: OwnAdmissionPlace {
    private let viewers: StatusViewers
    private let inner: (any OwnAdmissionPlace)?

    init(viewers: StatusViewers, inner: (any OwnAdmissionPlace)?) {
        self.viewers = viewers
        self.inner = inner
    }

    func release() {
        self.viewers.leave()
        self.inner?.release()
    }
}
