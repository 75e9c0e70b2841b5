import ChorusCore
import ChorusEpoll
import ChorusNIO
import NIOCore
import NIOHTTP1

/// The NIO upgrade decider of a connection the epoll transport handed over: it never admits. The HTTP side of the
/// epoll transport has no shards: it answers a refusal the epoll side decided, and refuses the upgrades it would
/// accept, saying why the epoll side did not take them.
struct HandedOffUpgrade: NIOUpgradeDecider {
    let policy: UpgradePolicy
    /// Why the epoll transport handed the connection over.
    let reason: HandOffReason

    /// The refusal the epoll side decided, or, for a request it did not decide on, the policy's refusal or the
    /// reason it was not taken (this side has no shard to serve it).
    func decide(_ head: HTTPRequestHead, peer: SocketAddress?) -> Result<AdmissionTicket, any Error> {
        let rejection: HTTPRejection
        switch self.reason {
        case .refused(let refusal):
            // Decided and logged on the epoll side.
            return .failure(refusal)
        case .headTooLarge:
            // Over the epoll side's limit, though NIO's decoder (which counts only the header fields) read it.
            rejection = .requestHeadTooLarge
        case .unsupported, .notAnUpgrade:
            // A body or a line the upgrade path does not read, or an `Upgrade` header the epoll side did not
            // recognise: not a plain RFC 6455 handshake.
            rejection = Self.evaluated(self.policy.evaluate(head, peer: peer)) {
                HTTPRejection(.badRequest, "malformed upgrade request", handshake: .badRequest)
            }
        }
        self.policy.logRefusal(rejection)
        return .failure(rejection)
    }

    /// The policy's refusal, or `otherwise` when the policy would accept.
    private static func evaluated(
        _ decision: Result<UpgradePolicy.Admission, HTTPRejection>,
        otherwise: () -> HTTPRejection
    ) -> HTTPRejection {
        switch decision {
        case .failure(let rejection): rejection
        case .success: otherwise()
        }
    }
}
