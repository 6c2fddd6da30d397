import Foundation
import Testing

@testable import RosterEmbeddedPostgres

@Suite("A temporary cluster whose maker died is removed by the next one; nothing that may still be in use is")
struct AbandonedClusterTests {
    /// The id of a process that has exited (and been reaped): nobody has it now.
    static func deadPID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    @Test("owner gone and no server: removed; owner alive, server alive, or no owner file: kept")
    func table() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("abandoned-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let dead = try Self.deadPID(), alive = getpid()
        // name: (owner.pid, data/postmaster.pid, removed?)
        let cases: [String: (owner: Int32?, server: Int32?, removed: Bool)] = [
            "roster-pg-ownerGone": (dead, nil, true),
            "roster-pg-bothGone": (dead, dead, true),
            "roster-pg-ownerAlive": (alive, nil, false),
            "roster-pg-serverAlive": (dead, alive, false),
            "roster-pg-noOwnerFile": (nil, nil, false),
            "someone-else": (dead, nil, false),
        ]
        for (name, files) in cases {
            let root = base + "/" + name
            try FileManager.default.createDirectory(atPath: root + "/data", withIntermediateDirectories: true)
            if let owner = files.owner { try "\(owner)\n".write(toFile: root + "/owner.pid", atomically: true, encoding: .utf8) }
            if let server = files.server {
                try "\(server)\n/some/data\n".write(toFile: root + "/data/postmaster.pid", atomically: true, encoding: .utf8)
            }
        }
        let removed = EmbeddedPostgres.removeAbandoned(in: base, prefix: EmbeddedPostgres.temporaryPrefix)
        for (name, files) in cases {
            #expect(FileManager.default.fileExists(atPath: base + "/" + name) == !files.removed, "\(name)")
        }
        #expect(Set(removed.map { ($0 as NSString).lastPathComponent }) == ["roster-pg-ownerGone", "roster-pg-bothGone"])
    }
}
