import ArgumentParser
import ChorusServer

// The command line's side of `ServerConfiguration.settings`.
//
// swift-argument-parser finds a command's options among its stored properties and cannot declare them from a
// table at run time, so `Chorus` keeps one thin property per setting, `@Option(setting: "port") var port: String?`,
// in the table's order. Everything else comes from the setting's declaration: the option's name, its help (default
// and variable included) and its form (`--flag value`, `--flag` / `--no-flag`, a repeatable `--flag value`); the
// parsing is the table's own, so the environment and the flags accept the same text and refuse it with the same
// message. `settingFlags` reads the options back by reflection, so no list of them is typed twice; it stops with an
// internal inconsistency when a property is missing, misplaced or of the wrong form.

extension Option where Value == String? {
    /// The option of the setting `flag`: `--flag value`, named and explained by its declaration.
    init(setting flag: String) {
        self.init(name: .customLong(flag), help: Chorus.help(flag, form: .value))
    }
}

extension Option where Value == [String] {
    /// The option of the list setting `flag`: a repeatable `--flag value`, named and explained by its declaration.
    init(wrappedValue: [String], setting flag: String) {
        self.init(wrappedValue: wrappedValue, name: .customLong(flag), help: Chorus.help(flag, form: .list))
    }
}

extension Flag where Value == Bool? {
    /// The flag of the boolean setting `flag`: `--flag` or `--no-flag`, named and explained by its declaration.
    init(setting flag: String) {
        self.init(name: .customLong(flag), inversion: .prefixedNo, help: Chorus.help(flag, form: .toggle))
    }
}

extension Chorus {
    /// The `--help` text of the setting `flag`, which must be declared with `form`.
    fileprivate static func help(_ flag: String, form: Setting.Form) -> ArgumentHelp {
        guard let setting = ServerConfiguration.setting(flag) else {
            preconditionFailure("Internal inconsistency: --\(flag) is not in ServerConfiguration.settings")
        }
        precondition(setting.form == form, "Internal inconsistency: --\(flag) is declared as \(setting.form)")
        return ArgumentHelp(setting.helpText, valueName: setting.valueName)
    }

    /// The settings given as flags, `(setting, value)` in the order of `ServerConfiguration.settings` (nil: not
    /// given; a list setting once per value), read from this command's options.
    var settingFlags: [(setting: String, value: String?)] {
        let options = Array(Mirror(reflecting: self).children)
        let settings = ServerConfiguration.settings
        precondition(
            options.count == settings.count,
            "Internal inconsistency: \(options.count) options for \(settings.count) settings"
        )
        var flags: [(setting: String, value: String?)] = []
        for (option, setting) in zip(options, settings) {
            let property = "_" + Self.propertyName(setting.flag)
            precondition(
                option.label == property,
                "Internal inconsistency: \(option.label ?? "?") stands where \(property) (--\(setting.flag)) belongs"
            )
            switch (setting.form, option.value) {
            case (.value, let option as Option<String?>):
                flags.append((setting.flag, option.wrappedValue))
            case (.toggle, let flag as Flag<Bool?>):
                flags.append((setting.flag, flag.wrappedValue.map { String($0) }))
            case (.list, let option as Option<[String]>):
                flags += option.wrappedValue.map { (setting.flag, $0) }
            default:
                preconditionFailure("Internal inconsistency: \(property) is not a \(setting.form) option")
            }
        }
        return flags
    }

    /// A flag's property name: `max-connections-per-ip` → `maxConnectionsPerIp`.
    private static func propertyName(_ flag: String) -> String {
        let words = flag.split(separator: "-")
        return words.prefix(1).joined() + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }
}
