/// One optional value per permessage-deflate window size (9...15), stored inline: no heap allocation and no
/// hashing, so it can be read per subscriber on the delivery path.
package struct WindowBitsSlots<Value> {
    private var bits9, bits10, bits11, bits12, bits13, bits14, bits15: Value?

    package init() {}

    package subscript(windowBits: UInt8) -> Value? {
        get {
            switch windowBits {
            case 9: return self.bits9
            case 10: return self.bits10
            case 11: return self.bits11
            case 12: return self.bits12
            case 13: return self.bits13
            case 14: return self.bits14
            case 15: return self.bits15
            default: fatalError("Internal inconsistency: window bits \(windowBits) outside 9...15")
            }
        }
        set {
            switch windowBits {
            case 9: self.bits9 = newValue
            case 10: self.bits10 = newValue
            case 11: self.bits11 = newValue
            case 12: self.bits12 = newValue
            case 13: self.bits13 = newValue
            case 14: self.bits14 = newValue
            case 15: self.bits15 = newValue
            default: fatalError("Internal inconsistency: window bits \(windowBits) outside 9...15")
            }
        }
    }
}

extension WindowBitsSlots: Sendable where Value: Sendable {}
