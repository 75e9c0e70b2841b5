/// Where the parts of a complete request head lie in the bytes it was read into (offsets from their start), as
/// `RequestHeadParser` found them: positions only, no copies.
package struct RequestHeadLayout: Equatable {
    /// The method token.
    package var method: Range<Int>
    /// The request target (path and query, as sent).
    package var target: Range<Int>
    /// The minor version of HTTP/1.x.
    package var versionMinor: Int
    /// The header lines (empty when there are none); each is known to be a well-formed field.
    package var fields: Range<Int>
    /// The head's length, its blank line included: where the connection's own bytes start.
    package var length: Int
}
