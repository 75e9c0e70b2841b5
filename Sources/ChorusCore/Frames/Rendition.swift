/// A message encoded for one wire protocol: its plain frame and, when compression is in play, the holder of its
/// compressed forms (made lazily, once per window size). Every subscriber speaking that protocol is written the same
/// storage.
package struct Rendition: Sendable {
    package let plain: Frame
    package let compressed: CompressedFrames?

    package init(plain: Frame, compressed: CompressedFrames?) {
        self.plain = plain
        self.compressed = compressed
    }
}
