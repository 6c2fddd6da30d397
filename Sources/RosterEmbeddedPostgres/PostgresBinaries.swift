import Foundation

public struct PostgresBinaries: Sendable {
    /// Folder holding `initdb` and `postgres` (and usually `pg_isready`).
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public var initdb: String { path(of: "initdb") }
    public var postgres: String { path(of: "postgres") }

    /// Absolute path of a tool in `directory`.
    public func path(of tool: String) -> String { directory + "/" + tool }

    /// PATH first, then the folder `pg_config --bindir` prints (Debian keeps server binaries off PATH),
    /// then the newest /usr/lib/postgresql/*/bin.
    public static func locate() throws(EmbeddedPostgresError) -> PostgresBinaries {
        var searched: [String] = []
        func check(_ directory: String) -> Bool {
            searched.append(directory)
            return ["initdb", "postgres"].allSatisfy { ChildProcess.isExecutableFile(directory + "/" + $0) }
        }

        let pathVariable = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let pathEntries = pathVariable.split(separator: ":").map(String.init).filter { $0.hasPrefix("/") }
        for entry in pathEntries where check(entry) {
            return PostgresBinaries(directory: entry)
        }

        if let pgConfig = pathEntries.map({ $0 + "/pg_config" }).first(where: ChildProcess.isExecutableFile),
           let output = ChildProcess.output(of: pgConfig, arguments: ["--bindir"])
        {
            let directory = output.trimmingCharacters(in: .whitespacesAndNewlines)
            if directory.hasPrefix("/"), !searched.contains(directory), check(directory) {
                return PostgresBinaries(directory: directory)
            }
        }

        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap { name -> (name: String, key: [Int])? in
                let key = name.split(separator: ".").compactMap { Int($0) }
                return key.isEmpty ? nil : (name, key)
            }
            .sorted { $0.key.lexicographicallyPrecedes($1.key) }
            .reversed()
        for version in versions {
            let directory = "\(root)/\(version.name)/bin"
            if !searched.contains(directory), check(directory) {
                return PostgresBinaries(directory: directory)
            }
        }
        if versions.isEmpty { searched.append("\(root)/*/bin") }
        throw .binariesNotFound(searched: searched)
    }
}
