import ArgumentParser
import Foundation
import RosterStore
import Testing

@testable import roster

extension CLISuite {
    @Suite("The container recipe: read-only runtime files, roster's own health check, secrets from files")
    struct ContainerRecipeTests {
        static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

        static func text(_ name: String) throws -> String {
            try String(contentsOf: root.appendingPathComponent(name), encoding: .utf8)
        }

        /// The Dockerfile's instructions from the last FROM on (the runtime image), comments and continuations joined.
        static func runtimeStage() throws -> [String] {
            var instructions: [String] = []
            var pending = ""
            for line in try text("Dockerfile").components(separatedBy: "\n") {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix("#") || (trimmed.isEmpty && pending.isEmpty) { continue }
                pending += (pending.isEmpty ? "" : " ") + (trimmed.hasSuffix("\\") ? String(trimmed.dropLast()) : trimmed)
                if !trimmed.hasSuffix("\\") {
                    instructions.append(pending)
                    pending = ""
                }
            }
            let last = try #require(instructions.lastIndex { $0.uppercased().hasPrefix("FROM ") })
            return Array(instructions[last...])
        }

        @Test("the runtime image copies the binary and resources as root's, makes them read-only, and runs as roster")
        func readOnlyRuntime() throws {
            let stage = try Self.runtimeStage()
            let copies = stage.filter { $0.uppercased().hasPrefix("COPY ") }
            #expect(!copies.isEmpty)
            #expect(copies.allSatisfy { !$0.contains("--chown") }, "a COPY gives the files to another user: \(copies)")
            let readOnly = try #require(stage.firstIndex { $0.contains("chmod -R a-w /app") }, "nothing makes /app read-only")
            let user = try #require(stage.firstIndex { $0.uppercased().hasPrefix("USER ") })
            #expect(stage[user].contains("roster"))
            #expect(readOnly < user, "the files are made read-only as root, before the switch to roster")
            #expect(!stage.contains { $0.contains("useradd") && $0.contains("--create-home") && $0.contains("/app") }, "roster's home is /app, which it would own")
        }

        @Test("the health check is roster healthcheck, and the runtime image installs no curl")
        func healthcheckWithoutCurl() throws {
            let stage = try Self.runtimeStage()
            let check = try #require(stage.first { $0.uppercased().hasPrefix("HEALTHCHECK") })
            #expect(check.contains(#"["/app/roster", "healthcheck"]"#), "\(check)")
            #expect(!stage.joined(separator: "\n").contains("curl"), "curl is still in the runtime image")
            let compose = try Self.text("compose.yaml")
            #expect(compose.contains(#"test: ["CMD", "/app/roster", "healthcheck"]"#))
            #expect(!compose.contains("curl"))
        }

        @Test("compose.yaml takes the database password, the owner's password and the secret key from secret files, never literals")
        func composeSecrets() throws {
            let compose = try Self.text("compose.yaml")
            let lines = compose.components(separatedBy: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.hasPrefix("#") }
            for literal in ["POSTGRES_PASSWORD:", "ROSTER_BOOTSTRAP_OWNER_PASSWORD:", "ROSTER_SECRET_KEY:"] {
                #expect(!lines.contains { $0.hasPrefix(literal) }, "\(literal) is set in compose.yaml")
            }
            for file in [
                "POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password", "ROSTER_DATABASE_PASSWORD_FILE: /run/secrets/postgres_password",
                "ROSTER_SECRET_KEY_FILE: /run/secrets/roster_secret_key", "ROSTER_BOOTSTRAP_OWNER_PASSWORD_FILE: /run/secrets/owner_password",
            ] {
                #expect(lines.contains(file), "compose.yaml lacks \(file)")
            }
            #expect(lines.contains("ROSTER_DATABASE_URL: postgres://roster@postgres:5432/roster"), "the URL carries no password")
            #expect(lines.contains("secrets:") && compose.contains("file: ./secrets/postgres_password"))
            let ignored = try Self.text(".dockerignore").components(separatedBy: "\n")
            #expect(ignored.contains("secrets"), "the secret files would be sent into the image's build context")
        }

        @Test("ROSTER_DATABASE_PASSWORD_FILE supplies the password a database URL leaves out")
        func databasePasswordFile() async throws {
            let url = try await freshDatabase()
            var components = try #require(URLComponents(string: url))
            let password = try #require(components.password)
            components.password = nil
            let bare = try #require(components.string)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("roster-db-password-\(UUID())")
            try Data((password + "\n").utf8).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let withFile = await cli(["tenant", "list"], database: nil, environment: ["ROSTER_DATABASE_URL": bare, "ROSTER_DATABASE_PASSWORD_FILE": file.path])
            #expect(withFile.succeeded && withFile.output.contains("default"), "\(withFile.everything)")
            // What the command connects with: the file's password (its line ending dropped), in the URL.
            let command = try #require(try Roster.parseAsRoot(["tenant", "list"]) as? TenantCommand.List)
            let io = CommandIO(
                write: { _ in }, environment: ["ROSTER_DATABASE_URL": bare, "ROSTER_DATABASE_PASSWORD_FILE": file.path], readSecret: { _ in "" })
            #expect(try DatabaseURL(try CommandIO.$current.withValue(io) { try command.database.url() }).password == password)
            // Characters a URL would misread survive the round trip.
            let odd = "p@ss:w/rd?#%é"
            #expect(try DatabaseURL(DatabaseURL.replacingPassword(in: bare, with: odd)).password == odd)
        }
    }
}
