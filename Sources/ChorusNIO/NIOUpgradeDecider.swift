import ChorusCore
import NIOCore
import NIOHTTP1

/// The server's side of the NIO transport's upgrades: `WebSocketUpgrader` asks it, once per request, whether a
/// WebSocket upgrade may go ahead (the epoll transport asks its `EpollFrontDoor` the same).
package protocol NIOUpgradeDecider: Sendable {
    /// Decides on the upgrade request `head` from `peer`, on the connection's event loop: the ticket of an admitted
    /// connection, whose places the transport then holds, or the error the HTTP handler behind the upgrader answers
    /// the request with.
    func decide(_ head: HTTPRequestHead, peer: SocketAddress?) -> Result<AdmissionTicket, any Error>
}
