/// A JSON object written in insertion order (the report is read by people as well as by scripts/plot-bench.py).
struct JSONObject: Sendable {
    private var fields: [(key: String, value: String)] = []

    subscript(key: String) -> Int {
        get { fatalError("write-only") }
        set { self.fields.append((key, String(newValue))) }
    }

    subscript(key: String) -> Double {
        get { fatalError("write-only") }
        set { self.fields.append((key, newValue.isFinite ? Self.number(newValue) : "null")) }
    }

    subscript(key: String) -> String {
        get { fatalError("write-only") }
        set { self.fields.append((key, Self.quoted(newValue))) }
    }

    subscript(key: String) -> JSONObject {
        get { fatalError("write-only") }
        set { self.fields.append((key, newValue.text(indent: 1))) }
    }

    /// The object as text, two spaces per level.
    func text(indent: Int = 0) -> String {
        guard !self.fields.isEmpty else { return "{}" }
        let inner = String(repeating: "  ", count: indent + 1)
        let lines = self.fields.map { "\(inner)\(Self.quoted($0.key)): \($0.value)" }
        return "{\n" + lines.joined(separator: ",\n") + "\n" + String(repeating: "  ", count: indent) + "}"
    }

    private static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    private static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
