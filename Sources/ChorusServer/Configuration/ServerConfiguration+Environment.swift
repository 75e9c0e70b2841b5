import NIOCore

extension ServerConfiguration {
    /// Applies the `CHORUS_*` variables found in `environment` (those of `settings`) on top of the current values.
    package mutating func apply(environment: [String: String]) throws(ConfigurationError) {
        for setting in Self.settings {
            guard let value = environment[setting.variable] else { continue }
            do {
                try setting.apply(value, to: &self)
            } catch {
                throw ConfigurationError("\(setting.variable): \(error.description)")
            }
        }
    }

    /// The configuration for a start: defaults, then `environment`'s `CHORUS_*` variables, then `flags`
    /// (setting name as the flag, without `--`; nil = not given). Flags win; the first flag of a list setting
    /// replaces the variable's list. Validated.
    package static func resolve(
        environment: [String: String],
        flags: [(setting: String, value: String?)]
    ) throws(ConfigurationError) -> ServerConfiguration {
        var configuration = ServerConfiguration()
        try configuration.apply(environment: environment)
        var listsFromFlags: Set<String> = []
        for case (let name, let value?) in flags {
            guard let setting = Self.setting(name) else {
                fatalError("Internal inconsistency: unknown setting \(name)")
            }
            if setting.form == .list, listsFromFlags.insert(name).inserted {
                setting.clear(in: &configuration)
            }
            do {
                try setting.apply(value, to: &configuration)
            } catch {
                throw ConfigurationError("--\(name): \(error.description)")
            }
        }
        try configuration.validate()
        return configuration
    }

    /// Parses `250ms`, `10s`, `2m` or a plain number of seconds (`1.5`).
    package static func duration(_ text: String) throws(ConfigurationError) -> TimeAmount {
        let units: [(suffix: String, nanoseconds: Double)] = [("ms", 1e6), ("s", 1e9), ("m", 60e9)]
        var number = Substring(text)
        var scale = 1e9
        for unit in units where text.hasSuffix(unit.suffix) {
            number = text.dropLast(unit.suffix.count)
            scale = unit.nanoseconds
            break
        }
        guard let value = Double(number), value.isFinite, value >= 0 else {
            throw ConfigurationError("expected a duration such as 500ms, 10s or 2m, got '\(text)'")
        }
        return .nanoseconds(Int64(value * scale))
    }
}
