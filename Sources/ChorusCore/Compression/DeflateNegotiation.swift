/// Chooses a permessage-deflate offer from a client's `Sec-WebSocket-Extensions` headers (RFC 7692 §5, §7.1).
///
/// Offers are tried in the client's order of preference; the first one the server can honour wins. An offer
/// with an unknown, repeated or malformed parameter, or one asking for a window zlib cannot produce, is
/// declined rather than accepted and broken later. No acceptable offer means no compression, never a failed
/// handshake: the connection simply runs uncompressed.
package enum DeflateNegotiation {
    /// The extension's registered name.
    package static let extensionName = "permessage-deflate"

    /// The parameters to use, or nil when no offer is acceptable. `headerValues` are the values of every
    /// `Sec-WebSocket-Extensions` header of the request, in order.
    package static func negotiate(_ headerValues: [String]) -> DeflateParameters? {
        for value in headerValues {
            for offer in Self.splitOutsideQuotes(Substring(value), separator: ",") {
                if let parameters = Self.accept(offer) { return parameters }
            }
        }
        return nil
    }

    /// The parameters for one offer (`permessage-deflate; param[=value]; …`), or nil to decline it.
    static func accept(_ offer: Substring) -> DeflateParameters? {
        let parts = Self.splitOutsideQuotes(offer, separator: ";").map { Self.trimmed($0) }
        guard let name = parts.first, name.lowercased() == Self.extensionName else { return nil }
        var seen = Set<String>()
        var serverWindowBits: UInt8?
        for part in parts.dropFirst() {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = Self.trimmed(pieces[0]).lowercased()
            let value = pieces.count > 1 ? Self.unquoted(Self.trimmed(pieces[1])) : nil
            // RFC 7692 §7.1: an offer naming a parameter twice must be declined.
            guard seen.insert(key).inserted else { return nil }
            switch key {
            case "server_no_context_takeover", "client_no_context_takeover":
                // We answer with both anyway; either may be offered, but never with a value.
                guard value == nil else { return nil }
            case "server_max_window_bits":
                guard let value, let bits = Self.windowBits(value) else { return nil }
                // zlib's raw deflate cannot keep to a 256-byte window (see `minimumWindowBits`).
                guard bits >= DeflateParameters.minimumWindowBits else { return nil }
                serverWindowBits = bits
            case "client_max_window_bits":
                // The client may limit its own window; our inflater always has the full 32 KiB one, so any
                // limit is fine and the response need not mention it.
                if let value { guard Self.windowBits(value) != nil else { return nil } }
            default:
                return nil
            }
        }
        return DeflateParameters(
            serverMaxWindowBits: serverWindowBits ?? DeflateParameters.maximumWindowBits,
            echoServerMaxWindowBits: serverWindowBits != nil
        )
    }

    /// A window-bits value: 8...15, digits only, no leading zero (RFC 7692 §7.1.2).
    private static func windowBits(_ text: Substring) -> UInt8? {
        guard (1...2).contains(text.count), text.first != "0", text.allSatisfy({ $0.isASCII && $0.isNumber }),
            let bits = UInt8(text), (8...15).contains(bits)
        else { return nil }
        return bits
    }

    /// Splits at `separator`, ignoring separators inside double quotes.
    private static func splitOutsideQuotes(_ text: Substring, separator: Character) -> [Substring] {
        var result: [Substring] = []
        var start = text.startIndex
        var inQuotes = false
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if character == "\"" {
                inQuotes.toggle()
            } else if character == separator, !inQuotes {
                result.append(text[start..<index])
                start = text.index(after: index)
            }
            index = text.index(after: index)
        }
        result.append(text[start..<text.endIndex])
        return result
    }

    private static func unquoted(_ text: Substring) -> Substring {
        guard text.count >= 2, text.first == "\"", text.last == "\"" else { return text }
        return text.dropFirst().dropLast()
    }

    private static func trimmed(_ text: Substring) -> Substring {
        var text = text
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}
