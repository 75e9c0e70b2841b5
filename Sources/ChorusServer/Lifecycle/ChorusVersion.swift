/// The version Chorus reports in `chorus_build_info` and `chorus --version`.
package enum ChorusVersion {
    package static let current = "0.1.0"
}
