import Foundation
import PostgresNIO
import RosterAuth
import RosterServer
import RosterStore
import RosterTestSupport
import Testing

@testable import roster

#if canImport(Glibc)
import Glibc
#endif

extension CLISuite {
    @Suite("The secret key: serve requires one, its first start seals, secrets rotate re-seals")
    struct SecretsCommandTests {
        /// `roster serve` (the binary) on `port` and database `url`, with `environment` added; its stderr goes to the returned pipe.
        static func startServe(url: String, port: Int, environment: [String: String]) throws -> (Process, Pipe) {
            let executable = FlagTests.rosterExecutable
            try #require(FileManager.default.isExecutableFile(atPath: executable.path), "no roster binary at \(executable.path)")
            let server = Process()
            server.executableURL = executable
            server.arguments = ["serve", "--port", String(port), "--host", "127.0.0.1", "--database-url", url, "--log-level", "notice"]
            server.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "ROSTER_WEBHOOKS": "false"]
                .merging(environment) { $1 }
            let errors = Pipe()
            server.standardOutput = FileHandle.nullDevice
            server.standardError = errors
            try server.run()
            return (server, errors)
        }

        /// Runs `body` while `roster serve` with the test key answers on `port`.
        static func withServe(url: String, _ body: (Int) async throws -> Void) async throws {
            let port = try FlagTests.freePort()
            let (server, _) = try startServe(url: url, port: port, environment: ["ROSTER_SECRET_KEY": TestSecrets.entry])
            defer {
                if server.isRunning { kill(server.processIdentifier, SIGKILL) }
            }
            var statusLine: String?
            for _ in 0..<600 where statusLine == nil && server.isRunning {
                try await Task.sleep(for: .milliseconds(100))
                statusLine = FlagTests.healthStatusLine(port: port)
            }
            try #require(statusLine != nil, "serve did not answer (still running: \(server.isRunning))")
            try await body(port)
            server.terminate()
            for _ in 0..<100 where server.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        }

        @Test("roster serve without ROSTER_SECRET_KEY refuses to start, and says how to give a key or opt out")
        func serveRefusesWithoutKey() async throws {
            let url = try await freshDatabase()
            let port = try FlagTests.freePort()
            let (server, errors) = try Self.startServe(url: url, port: port, environment: [:])
            defer {
                if server.isRunning { kill(server.processIdentifier, SIGKILL) }
            }
            for _ in 0..<300 where server.isRunning { try await Task.sleep(for: .milliseconds(100)) }
            #expect(!server.isRunning, "serve is running without a key")
            #expect(FlagTests.healthStatusLine(port: port) == nil)
            if server.isRunning { kill(server.processIdentifier, SIGKILL) }
            server.waitUntilExit()
            #expect(server.terminationStatus != 0)
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(message.contains("ROSTER_SECRET_KEY") && message.contains("ROSTER_ALLOW_PLAINTEXT_SECRETS=true"), "\(message)")
        }

        @Test("roster serve's first start with a key seals the secrets earlier versions stored in plaintext")
        func firstServeSealsPlaintext() async throws {
            let url = try await freshDatabase()
            let legacy = try await inspect(url) { db in
                try await LegacySecretRows.insert(into: db, tenant: try #require(try await TenantRepository(database: db).find("default")).id)
            }
            try await Self.withServe(url: url) { _ in
                let (counts, sealed) = try await inspect(url) { db in
                    let sealed = try await db.query(
                        "SELECT secret_sealed, previous_secret_sealed FROM webhook_subscriptions WHERE id = \(legacy.webhook)"
                    ).first.map { try $0.decode((Data, Data).self) }
                    return (try await LegacySecretRows.plaintextCounts(db), sealed)
                }
                #expect(counts == [0, 0, 0], "server_secrets, signing_keys, webhook_subscriptions still hold plaintext")
                let (current, previous) = try #require(sealed)
                let purpose = SecretPurpose.webhook(tenant: legacy.tenant, id: legacy.webhook)
                #expect(String(decoding: try TestSecrets.keyring.open(current, for: purpose), as: UTF8.self) == legacy.webhookSecrets[0])
                #expect(String(decoding: try TestSecrets.keyring.open(previous, for: purpose), as: UTF8.self) == legacy.webhookSecrets[1])
                let keys = try await inspect(url) { try await SigningKeyRepository(database: $0).verifiable(retiredAfter: .distantPast) }
                #expect(keys.map(\.kid) == [legacy.kid] && keys.first?.privateKey.reveal() == legacy.seed)
            }
        }

        @Test("roster secrets rotate re-seals under the first key and reports counts; then the old key may go; again it changes nothing")
        func rotate() async throws {
            let url = try await freshDatabase()
            let old = SecretKeyring.generateEntry(keyID: "old")
            let new = SecretKeyring.generateEntry(keyID: "new")
            for command in [["auth", "rotate-signing-key"], ["webhook", "create", "--url", "https://example.com/hook"]] {
                let result = await cli(command, database: url, environment: ["ROSTER_SECRET_KEY": old])
                #expect(result.succeeded, "\(result.everything)")
            }
            // The cursor key is the one plaintext secret of a database no server has started on.
            let first = await cli(["secrets", "rotate"], database: url, environment: ["ROSTER_SECRET_KEY": new + "," + old])
            #expect(first.succeeded, "\(first.everything)")
            #expect(first.output.contains("2 re-encrypted from older keys, 1 encrypted from plaintext, 0 already under it"), "\(first.output)")
            #expect(first.output.contains("'old'") && first.output.contains("may be removed"), "\(first.output)")
            #expect(!first.everything.contains(String(old.split(separator: ":")[1])) && !first.everything.contains(String(new.split(separator: ":")[1])))

            let again = await cli(["secrets", "rotate"], database: url, environment: ["ROSTER_SECRET_KEY": new])
            #expect(again.succeeded, "\(again.everything)")
            #expect(again.output.contains("0 re-encrypted from older keys, 0 encrypted from plaintext, 3 already under it"), "\(again.output)")
            let census = try await inspect(url, secrets: .encrypted(try SecretKeyring(parsing: new))) {
                try await StoredSecrets(database: $0).census(opening: try SecretKeyring(parsing: new))
            }
            #expect(census.sealedByKeyID == ["new": 3] && census.plaintext == 0)

            let stale = await cli(["secrets", "rotate"], database: url, environment: ["ROSTER_SECRET_KEY": old])
            #expect(!stale.succeeded)
            #expect(stale.everything.contains("key id 'new'") && stale.everything.contains("Nothing was changed"), "\(stale.everything)")
        }

        @Test("secrets rotate, webhook create and auth rotate-signing-key refuse without a key, and write nothing")
        func commandsRefuseWithoutKey() async throws {
            let url = try await freshDatabase()
            for command in [["secrets", "rotate"], ["auth", "rotate-signing-key"], ["webhook", "create", "--url", "https://example.com/hook"]] {
                let result = await cli(command, database: url, environment: ["ROSTER_SECRET_KEY": ""])
                #expect(!result.succeeded, "\(command)")
                #expect(result.everything.contains("ROSTER_SECRET_KEY"), "\(result.everything)")
            }
            let written = try await inspect(url) { db in
                try await db.query("SELECT (SELECT count(*) FROM signing_keys) + (SELECT count(*) FROM webhook_subscriptions)").first?.decode(Int.self)
            }
            #expect(written == 0)
        }

        @Test("roster secrets generate-key prints a new <key id>:<base64 of 32 bytes> entry that ROSTER_SECRET_KEY takes")
        func generateKey() async throws {
            let result = await cli(["secrets", "generate-key", "--id", "k2027"], database: nil)
            #expect(result.succeeded, "\(result.everything)")
            let entry = try #require(result.lines.last)
            let keyring = try SecretKeyring(parsing: entry)
            #expect(keyring.currentKeyID == "k2027")
            let other = await cli(["secrets", "generate-key", "--id", "k2027"], database: nil)
            #expect(other.lines.last != entry, "every key is new")
            #expect(await cli(["secrets", "generate-key", "--id", "not valid"], database: nil).succeeded == false)
        }
    }
}
