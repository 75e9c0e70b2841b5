import NIOCore

/// One operator setting, declared once in `ServerConfiguration.settings`: its flag, its `CHORUS_*` variable, how
/// its text becomes a `ServerConfiguration` field (and how the field is emptied, for lists), its help text and its
/// default, rendered from the field's own default in `ServerConfiguration()` so it is never typed twice.
///
/// Everything else follows from the declaration: reading the environment (`apply(environment:)`), applying flags
/// (`resolve(environment:flags:)`), the command line's options and their `--help` (`Sources/chorus`), and the
/// README's configuration table (`tableRow`, checked against README.md by `ConfigurationTests`).
package struct Setting: Sendable {
    /// How a setting is given on the command line.
    package enum Form: Sendable, Equatable {
        /// `--flag value`, once.
        case value
        /// `--flag` or `--no-flag`; the variable takes true/false, 1/0, yes/no or on/off.
        case toggle
        /// `--flag value`, repeatable; the variable takes a comma-separated list. The first flag replaces the
        /// variable's list, later ones add to it.
        case list
    }

    /// A default as documented: a value (code in the README: `8080`, `30s`) or words for an absent or
    /// machine-dependent one (off, none, number of cores).
    package enum Default: Sendable, Equatable {
        case value(String)
        case words(String)

        /// The default as `--help` shows it.
        package var text: String {
            switch self {
            case .value(let text), .words(let text): text
            }
        }

        /// The default as the README's table shows it.
        package var markdown: String {
            switch self {
            case .value(let text): "`\(text)`"
            case .words(let text): text
            }
        }
    }

    /// How the text of a setting (a flag's value, a variable, one item of a list) becomes a value, and how a
    /// value is shown as a default.
    package struct Parser<Value>: Sendable {
        package var parse: @Sendable (String) throws(ConfigurationError) -> Value
        package var render: @Sendable (Value) -> Default
        /// A boolean given as `--flag` / `--no-flag`.
        package var isToggle = false
        /// What `--help` calls the value (`--port <n>`); nil: the flag's name.
        package var valueName: String?

        package init(
            parse: @escaping @Sendable (String) throws(ConfigurationError) -> Value,
            render: @escaping @Sendable (Value) -> Default
        ) {
            self.parse = parse
            self.render = render
        }
    }

    /// The flag's name, without `--`; also the name the validation messages use.
    package let flag: String
    /// The `CHORUS_*` environment variable.
    package let variable: String
    package let form: Form
    /// What `--help` calls the value (`--port <n>`); nil: the flag's name.
    package let valueName: String?
    /// One line for `--help`, without the default and the variable (`helpText` adds them).
    package let help: String
    /// The default, rendered from `ServerConfiguration()`.
    package let defaultValue: Default
    private let assign: @Sendable (inout ServerConfiguration, String) throws(ConfigurationError) -> Void
    private let reset: @Sendable (inout ServerConfiguration) -> Void
    private let show: @Sendable (ServerConfiguration) -> Default

    /// A setting held in one field of `ServerConfiguration`.
    ///
    /// - Parameter machineDependentDefault: words for a default that differs between machines (the number of
    ///   cores, the platform's transport), which the README cannot show as one value; nil renders the field's
    ///   default.
    package init<Value>(
        _ flag: String,
        _ variable: String,
        _ field: any WritableKeyPath<ServerConfiguration, Value> & Sendable,
        _ parser: Parser<Value>,
        help: String,
        machineDependentDefault: String? = nil
    ) {
        self.flag = flag
        self.variable = variable
        self.form = parser.isToggle ? .toggle : .value
        self.valueName = parser.valueName
        self.help = help
        self.show = { configuration in parser.render(configuration[keyPath: field]) }
        self.defaultValue = machineDependentDefault.map { .words($0) } ?? self.show(ServerConfiguration())
        self.assign = { (configuration: inout ServerConfiguration, text: String) throws(ConfigurationError) in
            configuration[keyPath: field] = try parser.parse(text)
        }
        self.reset = { _ in }
    }

    /// A list setting held in one array field: each comma-separated item of a variable, and each flag, adds one
    /// element parsed by `element`.
    ///
    /// - Parameter whenEmpty: what an empty list means, as the default (none, any).
    package init<Element>(
        _ flag: String,
        _ variable: String,
        _ field: any WritableKeyPath<ServerConfiguration, [Element]> & Sendable,
        listOf element: Parser<Element>,
        whenEmpty: String,
        help: String
    ) {
        self.flag = flag
        self.variable = variable
        self.form = .list
        self.valueName = element.valueName
        self.help = help
        self.show = { configuration in
            let items = configuration[keyPath: field]
            guard !items.isEmpty else { return .words(whenEmpty) }
            return .value(items.map { element.render($0).text }.joined(separator: ","))
        }
        self.defaultValue = self.show(ServerConfiguration())
        self.assign = { (configuration: inout ServerConfiguration, text: String) throws(ConfigurationError) in
            for item in Self.items(text) {
                configuration[keyPath: field].append(try element.parse(item))
            }
        }
        self.reset = { configuration in configuration[keyPath: field] = [] }
    }

    /// Sets the setting from `text` on `configuration` (a list setting adds to its list).
    package func apply(_ text: String, to configuration: inout ServerConfiguration) throws(ConfigurationError) {
        try self.assign(&configuration, text)
    }

    /// The setting's value in `configuration`, shown as a default is.
    package func value(in configuration: ServerConfiguration) -> Default {
        self.show(configuration)
    }

    /// Empties a list setting (before flags replace what the environment set); nothing for other settings.
    package func clear(in configuration: inout ServerConfiguration) {
        self.reset(&configuration)
    }

    /// The help line `--help` shows: the help, the default and the variable.
    package var helpText: String {
        switch self.form {
        case .value, .toggle: "\(self.help) (default: \(self.defaultValue.text); env \(self.variable))."
        case .list: "\(self.help) (default: \(self.defaultValue.text); env \(self.variable), comma-separated)."
        }
    }

    /// The first three cells of the setting's row in the README's configuration table: flag, variable, default.
    package var tableRow: [String] {
        let flag =
            switch self.form {
            case .value, .list: "`--\(self.flag)`"
            case .toggle: "`--\(self.flag)` / `--no-\(self.flag)`"
            }
        return [flag, "`\(self.variable)`", self.defaultValue.markdown]
    }

    /// The comma-separated items of `text`, trimmed of spaces; empty items are kept, for validation to refuse.
    package static func items(_ text: String) -> [String] {
        text.split(separator: ",", omittingEmptySubsequences: false).map {
            String($0.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
        }
    }
}

extension Setting.Parser where Value == String {
    /// Any text, as given.
    package static var text: Self { Self(parse: { $0 }, render: { .value($0) }) }
}

extension Setting.Parser where Value == Int {
    /// A decimal integer; `_` may group digits (`1_000_000`).
    package static var integer: Self {
        var parser = Self(
            parse: { (text: String) throws(ConfigurationError) -> Int in
                guard let value = Int(String(text.filter { $0 != "_" })) else {
                    throw ConfigurationError("expected an integer, got '\(text)'")
                }
                return value
            },
            render: { .value(String($0)) }
        )
        parser.valueName = "n"
        return parser
    }
}

extension Setting.Parser where Value == Bool {
    /// On or off: `--flag` / `--no-flag`, or true/false, 1/0, yes/no, on/off.
    package static var boolean: Self {
        var parser = Self(
            parse: { (text: String) throws(ConfigurationError) -> Bool in
                switch text.lowercased() {
                case "1", "true", "yes", "on": return true
                case "0", "false", "no", "off": return false
                default: throw ConfigurationError("expected true or false, got '\(text)'")
                }
            },
            render: { .words($0 ? "on" : "off") }
        )
        parser.isToggle = true
        return parser
    }
}

extension Setting.Parser where Value == TimeAmount {
    /// `250ms`, `10s`, `2m` or a plain number of seconds (`1.5`).
    package static var duration: Self {
        var parser = Self(
            parse: { (text: String) throws(ConfigurationError) -> TimeAmount in
                try ServerConfiguration.duration(text)
            },
            render: { amount in
                let nanoseconds = amount.nanoseconds
                if nanoseconds >= 60_000_000_000, nanoseconds % 60_000_000_000 == 0 {
                    return .value("\(nanoseconds / 60_000_000_000)m")
                }
                if nanoseconds % 1_000_000_000 == 0 { return .value("\(nanoseconds / 1_000_000_000)s") }
                if nanoseconds % 1_000_000 == 0 { return .value("\(nanoseconds / 1_000_000)ms") }
                return .value("\(Double(nanoseconds) / 1e9)")
            }
        )
        parser.valueName = "duration"
        return parser
    }
}

extension Setting.Parser where Value: RawRepresentable & CaseIterable & Sendable, Value.RawValue == String {
    /// One of the type's cases, by raw value: "expected a, b or c, got 'x'" otherwise.
    package static var choice: Self {
        Self(
            parse: { (text: String) throws(ConfigurationError) -> Value in
                guard let value = Value(rawValue: text) else {
                    throw ConfigurationError("expected \(Setting.alternatives(Value.allCases)), got '\(text)'")
                }
                return value
            },
            render: { .value($0.rawValue) }
        )
    }
}

extension Setting.Parser {
    /// `parser` for an optional field, whose nil default is described by `absent` (off, none…).
    package static func optional<Wrapped>(_ parser: Setting.Parser<Wrapped>, absent: String) -> Self
    where Value == Wrapped? {
        let parse = parser.parse
        let render = parser.render
        var optional = Self(
            parse: { (text: String) throws(ConfigurationError) -> Value in try parse(text) },
            render: { value in value.map(render) ?? .words(absent) }
        )
        optional.valueName = parser.valueName
        return optional
    }
}

extension Setting {
    /// `a, b or c`, for the messages of settings that take one of a few words.
    package static func alternatives<Values: Collection>(_ values: Values) -> String
    where Values.Element: RawRepresentable, Values.Element.RawValue == String {
        let names = values.map(\.rawValue)
        guard names.count > 1 else { return names.joined() }
        return names.dropLast().joined(separator: ", ") + " or " + names.last!
    }
}
