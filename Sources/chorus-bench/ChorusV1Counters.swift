/// What chorus.v1 subscribers saw besides the deliveries of bench payloads (all zero with `--protocol raw`).
struct ChorusV1Counters: Sendable {
    /// `{"subscribed":…}` messages: one per connection is expected (the channel is named in the URL).
    var subscribed = 0
    /// `{"error":…}` messages.
    var errors = 0
    /// `{"resync":…}` messages.
    var resyncs = 0
    /// Text messages that are neither deliveries nor one of the control messages above.
    var otherText = 0
    /// Text deliveries (`{"channel":…}`): the bench publishes none, so they carry no timestamp it could read.
    var textDeliveries = 0
    /// Binary frames that are no delivery of a bench payload: a header that does not parse, or too few bytes.
    var malformed = 0
    /// Deliveries whose offset is not the previous delivery's plus one, on the same connection, channel and epoch.
    var offsetGaps = 0

    static func += (total: inout ChorusV1Counters, other: ChorusV1Counters) {
        total.subscribed += other.subscribed
        total.errors += other.errors
        total.resyncs += other.resyncs
        total.otherText += other.otherText
        total.textDeliveries += other.textDeliveries
        total.malformed += other.malformed
        total.offsetGaps += other.offsetGaps
    }

    /// Counts one text frame.
    @inline(__always)
    mutating func count(_ kind: ServerFrameScanner.TextKind) {
        switch kind {
        case .delivery: self.textDeliveries &+= 1
        case .subscribed: self.subscribed &+= 1
        case .error: self.errors &+= 1
        case .resync: self.resyncs &+= 1
        case .other: self.otherText &+= 1
        }
    }

    /// The counters as a JSON object (`offset_gaps` is written beside the loss, not here).
    var json: JSONObject {
        var json = JSONObject()
        json["subscribed"] = self.subscribed
        json["errors"] = self.errors
        json["resyncs"] = self.resyncs
        json["other_text"] = self.otherText
        json["text_deliveries"] = self.textDeliveries
        json["malformed"] = self.malformed
        return json
    }

    /// One line for the human summary.
    func summary(connections: Int) -> String {
        "chorus.v1: \(self.subscribed) subscribed confirmations for \(connections) connections, \(self.errors) errors, "
            + "\(self.resyncs) resyncs, \(self.textDeliveries) text deliveries, \(self.otherText) other text, "
            + "\(self.malformed) malformed binary frames"
    }
}
