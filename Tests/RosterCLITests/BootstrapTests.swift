import Foundation
import PostgresNIO
import RosterAuth
@testable import RosterStore
import RosterTestSupport
import Testing

@testable import roster

extension CLISuite {
    @Suite("roster admin-user bootstrap: the first owner of a fresh install")
    struct BootstrapTests {
        static let password = "correct horse battery staple"

        @Test("on a never-migrated database it migrates, creates an owner who can sign in, and a second run does nothing, exiting 0")
        func createsOnceThenNothing() async throws {
            let url = try await TestPostgres.require().emptyDatabase()
            let environment = ["OWNER_PASSWORD": Self.password]
            let first = await cli(
                ["admin-user", "bootstrap", "--email", "ada@example.com", "--name", "Ada", "--password-env", "OWNER_PASSWORD"],
                database: url, environment: environment)
            #expect(first.succeeded, "\(first.everything)")
            #expect(first.output.contains("Created the first admin user, ada@example.com"))

            let again = await cli(
                ["admin-user", "bootstrap", "--email", "grace@example.com", "--password-env", "OWNER_PASSWORD"], database: url, environment: environment)
            #expect(again.exitCode == 0, "\(again.everything)")
            #expect(again.output.contains("did nothing"))

            try await inspect(url) { db in
                let users = try await AdminUsers(database: db).list()
                #expect(users.map(\.email) == ["ada@example.com"])
                #expect(users.first?.displayName == "Ada")
                let (user, hash) = try #require(try await AdminUsers(database: db).credentials(email: "ADA@example.com"))
                #expect(await PasswordHasher(cost: 4).verify(Self.password, hash: try #require(hash)))
                // ROSTER_PASSWORD_BCRYPT_COST decides the hash's cost.
                #expect(hash?.contains("$04$") == true)
                let rights = try await RoleResolution(database: db).resolve(adminUser: user.id, attribute: .userName)
                #expect(rights == .granted(AdminGrants(global: [.all])))
                let audited = try await db.query("SELECT action, actor_type FROM admin_actions ORDER BY action").map { try $0.decode((String, String).self) }
                #expect(audited.map(\.0) == ["admin_role.granted", "admin_user.created"])
                #expect(audited.allSatisfy { $0.1 == "system" })
            }
        }

        @Test("two bootstraps at once create exactly one owner")
        func concurrentCommands() async throws {
            let url = try await freshDatabase()
            let results = await withTaskGroup(of: CLIResult.self) { group in
                for index in 0..<4 {
                    group.addTask {
                        await cli(
                            ["admin-user", "bootstrap", "--email", "owner\(index)@example.com", "--password-env", "P"],
                            database: url, environment: ["P": Self.password])
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.allSatisfy { $0.succeeded }, "\(results.map(\.everything))")
            #expect(results.filter { $0.output.contains("Created") }.count == 1)
            let owners = try await inspect(url) { db in try await AdminUsers(database: db).list() }
            #expect(owners.count == 1)
        }

        @Test("createFirstOwner called by eight replicas at the same moment creates one owner")
        func concurrentStore() async throws {
            let url = try await freshDatabase()
            let created = try await inspect(url, connections: 8) { db in
                let hash = await PasswordHasher(cost: 4).hash(Self.password)
                return try await withThrowingTaskGroup(of: AdminUserRecord?.self) { group in
                    for index in 0..<8 {
                        group.addTask {
                            try await AdminUsers(database: db).createFirstOwner(
                                email: "replica\(index)@example.com", displayName: nil, passwordHash: hash, by: .system)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }.compactMap { $0 }
                }
            }
            #expect(created.count == 1)
            let (users, grants) = try await inspect(url) { db in
                try await (AdminUsers(database: db).list(), AdminRoles(database: db).grants())
            }
            #expect(users.map(\.id) == created.map(\.id))
            #expect(grants.map(\.role) == ["owner"])
        }

        @Test("a bootstrap waits for one in progress in another process, then finds that owner and creates none")
        func waitsForAnother() async throws {
            let url = try await freshDatabase()
            let second = try await inspect(url, connections: 4) { db in
                let hash = await PasswordHasher(cost: 4).hash(Self.password)
                return try await db.withConnection { replica in
                    // Another replica, mid-bootstrap: it holds the lock and has inserted its owner, uncommitted.
                    try await replica.query("BEGIN", logger: db.logger)
                    try await replica.query("SELECT pg_advisory_xact_lock(\(AdminUsers.firstOwnerLock))", logger: db.logger)
                    try await replica.query("INSERT INTO admin_users (email) VALUES ('first@example.com')", logger: db.logger)
                    let second = Task {
                        try await AdminUsers(database: db).createFirstOwner(email: "second@example.com", displayName: nil, passwordHash: hash, by: .system)
                    }
                    #expect(try await Self.waitForLockWaiter(db), "the second bootstrap did not wait for the first")
                    try await replica.query("COMMIT", logger: db.logger)
                    return try await second.value
                }
            }
            #expect(second == nil)
            #expect(try await inspect(url) { try await AdminUsers(database: $0).list() }.map(\.email) == ["first@example.com"])
        }

        /// Whether a session of this database comes to wait for an advisory lock within 10 s.
        static func waitForLockWaiter(_ db: RosterDatabase) async throws -> Bool {
            for _ in 0..<200 {
                let rows = try await db.query(
                    """
                    SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                    """)
                if try rows.first?.decode(Int.self) == 1 { return true }
                try await Task.sleep(for: .milliseconds(50))
            }
            return false
        }

        @Test("env-only: ROSTER_BOOTSTRAP_OWNER_EMAIL, _NAME and _PASSWORD_FILE (a container secret) are enough")
        func environmentOnly() async throws {
            let url = try await freshDatabase()
            let secret = FileManager.default.temporaryDirectory.appendingPathComponent("owner-\(UUID().uuidString)")
            try Data((Self.password + "\n").utf8).write(to: secret)
            defer { try? FileManager.default.removeItem(at: secret) }
            let result = await cli(
                ["admin-user", "bootstrap"], database: url,
                environment: [
                    "ROSTER_BOOTSTRAP_OWNER_EMAIL": "ops@example.com", "ROSTER_BOOTSTRAP_OWNER_NAME": "Ops",
                    "ROSTER_BOOTSTRAP_OWNER_PASSWORD_FILE": secret.path,
                ])
            #expect(result.succeeded, "\(result.everything)")
            try await inspect(url) { db in
                let (user, hash) = try #require(try await AdminUsers(database: db).credentials(email: "ops@example.com"))
                #expect(user.displayName == "Ops")
                // The file's final newline is not part of the password.
                #expect(await PasswordHasher(cost: 4).verify(Self.password, hash: try #require(hash)))
            }
        }

        @Test("roster serve's step reads the same variables, and does nothing without ROSTER_BOOTSTRAP_OWNER_EMAIL")
        func serveStep() async throws {
            let url = try await freshDatabase()
            let none = try CommandIO.$current.withValue(CommandIO(write: { _ in }, environment: [:], readSecret: { _ in "" })) {
                try FirstOwner.fromEnvironment()
            }
            #expect(none == nil)
            let io = CommandIO(
                write: { _ in }, environment: ["ROSTER_BOOTSTRAP_OWNER_EMAIL": "ada@example.com", "ROSTER_BOOTSTRAP_OWNER_PASSWORD": Self.password],
                readSecret: { _ in "" })
            let outcomes = try await CommandIO.$current.withValue(io) {
                let owner = try #require(try FirstOwner.fromEnvironment())
                return try await inspect(url) { db in
                    [try await owner.run(on: db, passwordCost: 4), try await owner.run(on: db, passwordCost: 4)]
                }
            }
            guard case .created(let user) = outcomes[0] else { Issue.record("no owner created: \(outcomes)"); return }
            #expect(user.email == "ada@example.com")
            #expect(outcomes[1] == .alreadySetUp)
        }

        @Test("without a password it names the variables to set and creates nothing; once an owner exists it needs none")
        func passwordOnlyWhenNeeded() async throws {
            let url = try await freshDatabase()
            let environment = ["ROSTER_BOOTSTRAP_OWNER_EMAIL": "ada@example.com"]
            let refused = await cli(["admin-user", "bootstrap"], database: url, environment: environment)
            #expect(refused.exitCode != 0)
            #expect(refused.message?.contains("ROSTER_BOOTSTRAP_OWNER_PASSWORD") == true)
            let short = await cli(["admin-user", "bootstrap", "--password-env", "P"], database: url, environment: environment.merging(["P": "Q7-tiny-pw"]) { $1 })
            #expect(short.exitCode != 0)
            #expect(short.message?.contains("at least 12 characters") == true)
            #expect(!short.everything.contains("Q7-tiny-pw"))
            #expect(try await inspect(url) { try await AdminUsers(database: $0).isEmpty() })

            _ = await cli(["admin-user", "create", "--email", "grace@example.com"], database: url)
            let skipped = await cli(["admin-user", "bootstrap"], database: url, environment: environment)
            #expect(skipped.exitCode == 0, "\(skipped.everything)")
            #expect(skipped.output.contains("did nothing"))
        }

        @Test("no email at all, or one that is not an address, is an error")
        func email() async throws {
            let url = try await freshDatabase()
            let missing = await cli(["admin-user", "bootstrap", "--password-env", "P"], database: url, environment: ["P": Self.password])
            #expect(missing.message?.contains("--email or ROSTER_BOOTSTRAP_OWNER_EMAIL") == true)
            let invalid = await cli(["admin-user", "bootstrap", "--email", "ada", "--password-env", "P"], database: url, environment: ["P": Self.password])
            #expect(invalid.message?.contains("not an email address") == true)
            #expect(try await inspect(url) { try await AdminUsers(database: $0).isEmpty() })
        }
    }
}
