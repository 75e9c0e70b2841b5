import NIOCore
package enum ControlMessage: Equatable, Sendable {
    case subscribe(ChannelName), unsubscribe(ChannelName), publish(ChannelName, data: String)
    package static func parse(_ text: ByteBuffer) throws(ControlMessageError) -> ControlMessage { throw ControlMessageError(reason: "x") }
}
package struct ControlMessageError: Error, Equatable, Sendable { package var reason: String }
