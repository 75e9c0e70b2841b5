import Foundation
import Testing

@testable import ChorusServer

/// The README and `docs/` stay true to each other and to the server: their links resolve, every metric the server
/// exports is documented in `docs/metrics.md`, and the pages `GET /` names exist.
@Suite("Documentation: links, the metric table, the home page's pages")
struct DocumentationTests {
    /// The repository (this file is `Tests/ChorusServerTests/DocumentationTests.swift`).
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    private static func read(_ path: String) throws -> String {
        try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
    }

    /// The text outside fenced code blocks.
    private static func prose(_ markdown: String) -> [Substring] {
        var inFence = false
        return markdown.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
            if line.hasPrefix("```") { inFence.toggle() }
            return !inFence && !line.hasPrefix("```")
        }
    }

    /// GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces as dashes.
    private static func anchors(_ markdown: String) -> Set<String> {
        Set(
            Self.prose(markdown).filter { $0.hasPrefix("#") }.map { line in
                let title = line.drop { $0 == "#" }.dropFirst()
                return String(
                    title.lowercased().compactMap { character -> Character? in
                        if character == " " { return "-" }
                        return character.isLetter || character.isNumber || character == "-" || character == "_"
                            ? character : nil
                    }
                )
            }
        )
    }

    @Test("relative links of README.md and docs/*.md reach a file, and a heading when they name one")
    func links() throws {
        let docs = try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("docs").path)
        let pages = ["README.md"] + docs.filter { $0.hasSuffix(".md") }.map { "docs/" + $0 }
        #expect(pages.count >= 5, "README.md and the docs/ pages")
        let link = /\]\(([^)\s]+)\)/
        for page in pages {
            let text = try Self.read(page)
            let folder = (page as NSString).deletingLastPathComponent
            for line in Self.prose(text) {
                for match in line.matches(of: link) {
                    let target = String(match.1)
                    guard !target.hasPrefix("http://"), !target.hasPrefix("https://") else { continue }
                    let parts = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
                    let path = parts[0].isEmpty ? page : ((folder as NSString).appendingPathComponent(String(parts[0])))
                    let normalized = (path as NSString).standardizingPath
                    guard FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(normalized).path) else {
                        Issue.record("\(page): the link \(target) reaches no file")
                        continue
                    }
                    if parts.count == 2, normalized.hasSuffix(".md") {
                        let anchors = Self.anchors(try Self.read(normalized))
                        #expect(anchors.contains(String(parts[1])), "\(page): the link \(target) names no heading")
                    }
                }
            }
        }
    }

    @Test("every chorus_ metric family a server exports is in docs/metrics.md")
    func metricTable() async throws {
        let table = try Self.read("docs/metrics.md")
        try await TestServer.with(TestServer.configuration()) { server in
            let body = try await httpRequest(port: server.port, "GET", "/metrics").body
            let families = body.split(separator: "\n").filter { $0.hasPrefix("# TYPE chorus_") }
                .map { String($0.split(separator: " ")[2]) }
            #expect(families.count > 20)
            for family in families {
                // A row may name a family in full, or as a suffix of the one before it (`…_hits_total` / `_misses_total`).
                let suffixes = family.indices.filter { family[$0] == "_" }.map { "`" + family[$0...] + "`" }
                #expect(
                    table.contains("`" + family) || suffixes.contains { table.contains($0) },
                    "\(family) is exported but not documented in docs/metrics.md"
                )
            }
        }
    }

    @Test("the pages GET / names exist")
    func homePagePages() throws {
        let named = HomePage.html.matches(of: /<code>(docs\/[a-z-]+\.md|README\.md)<\/code>/).map { String($0.1) }
        #expect(named.count >= 4)
        for page in named {
            #expect(FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(page).path), "\(page)")
        }
    }
}
