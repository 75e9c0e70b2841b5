/// Builds masked client frames byte by byte, including invalid ones, for the tests of every target that reads them.
package struct ClientFrame {
    package var fin = true
    /// RSV bits as they sit in the first header byte (0x40, 0x20, 0x10).
    package var rsv: UInt8 = 0
    package var opcode: UInt8
    package var payload: [UInt8]
    /// nil sends the frame unmasked.
    package var mask: [UInt8]? = [0x37, 0xFA, 0x21, 0x3D]
    /// Overrides the length field: 126 or 127 force the extended forms, or supply raw extended bytes.
    package var forcedLength7: UInt8? = nil
    package var forcedExtendedLength: [UInt8]? = nil

    package init(
        fin: Bool = true, rsv: UInt8 = 0, opcode: UInt8, payload: [UInt8] = [],
        mask: [UInt8]? = [0x37, 0xFA, 0x21, 0x3D]
    ) {
        self.fin = fin
        self.rsv = rsv
        self.opcode = opcode
        self.payload = payload
        self.mask = mask
    }

    package init(fin: Bool = true, opcode: UInt8, text: String) {
        self.init(fin: fin, opcode: opcode, payload: Array(text.utf8))
    }

    package var bytes: [UInt8] {
        var out: [UInt8] = [(self.fin ? 0x80 : 0) | self.rsv | self.opcode]
        let maskBit: UInt8 = self.mask == nil ? 0 : 0x80
        let count = self.payload.count
        if let length7 = self.forcedLength7 {
            out.append(maskBit | length7)
            out += self.forcedExtendedLength ?? []
        } else if count <= 125 {
            out.append(maskBit | UInt8(count))
        } else if count <= 0xFFFF {
            out.append(maskBit | 126)
            out += [UInt8(count >> 8), UInt8(count & 0xFF)]
        } else {
            out.append(maskBit | 127)
            out += (0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(count) >> (UInt64($0) * 8)) }
        }
        if let mask = self.mask {
            out += mask
            out += self.payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        } else {
            out += self.payload
        }
        return out
    }
}
