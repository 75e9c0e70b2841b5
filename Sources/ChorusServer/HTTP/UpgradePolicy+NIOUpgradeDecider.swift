import ChorusCore
import ChorusNIO
import NIOCore
import NIOHTTP1

// The NIO transport asks the policy itself: the same decision, ticket and log as the epoll transport's
// (`EpollUpgradeFrontDoor.admit`).
extension UpgradePolicy: NIOUpgradeDecider {
    package func decide(_ head: HTTPRequestHead, peer: SocketAddress?) -> Result<AdmissionTicket, any Error> {
        self.admit(head, peer: peer).mapError { $0 }
    }
}
