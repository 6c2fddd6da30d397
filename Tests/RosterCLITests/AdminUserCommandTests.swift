import Foundation
import PostgresNIO
import RosterAuth
import RosterStore
import Testing

@testable import roster

extension CLISuite {
    @Suite("roster admin-user create, list, disable, enable, set-password")
    struct AdminUserCommandTests {
        static let password = "Kq9-unique-admin-passphrase"

        @Test("create with roles, then disable: the user can no longer sign in and holds no rights; enable by id restores them")
        func createThenDisable() async throws {
            let url = try await freshDatabase()
            let created = await cli(
                ["admin-user", "create", "--email", "ada@example.com", "--name", "Ada Lovelace", "--role", "admin", "--role", "auditor",
                 "--role", "admin", "--password-stdin"],
                database: url, input: Self.password + "\n")
            #expect(created.succeeded, "\(created.everything)")
            #expect(created.output.contains("with the role(s) admin, auditor"))

            let user = try await inspect(url) { db in
                let (user, hash) = try #require(try await AdminUsers(database: db).credentials(email: "ada@example.com"))
                #expect(user.disabled == nil)
                #expect(await PasswordHasher(cost: 4).verify(Self.password, hash: try #require(hash)))
                let rights = try await RoleResolution(database: db).resolve(adminUser: user.id, attribute: .userName)
                guard case .granted(let grants)? = rights else { Issue.record("no rights: \(String(describing: rights))"); return user }
                #expect(grants.allows(.webhooks, in: nil) && grants.allows(.auditRead, in: nil))
                #expect(!grants.allows(.adminUsers, in: nil))
                return user
            }

            let disabled = await cli(["admin-user", "disable", "ADA@example.com"], database: url)
            #expect(disabled.succeeded, "\(disabled.everything)")
            #expect(disabled.output.contains("can no longer sign in"))
            try await inspect(url) { db in
                // What the login route reads: a disabled user's password no longer opens a session.
                let (found, _) = try #require(try await AdminUsers(database: db).credentials(email: "ada@example.com"))
                #expect(found.disabled != nil)
                #expect(try await RoleResolution(database: db).resolve(adminUser: user.id, attribute: .userName) == nil)
            }
            let twice = await cli(["admin-user", "disable", "ada@example.com"], database: url)
            #expect(twice.succeeded && twice.output.contains("disabled already"))

            let enabled = await cli(["admin-user", "enable", user.id.uuidString.lowercased()], database: url)
            #expect(enabled.succeeded, "\(enabled.everything)")
            try await inspect(url) { db in
                #expect(try await AdminUsers(database: db).get(id: user.id)?.disabled == nil)
                let audited = try await db.query("SELECT count(*) FROM admin_actions WHERE action = 'admin_user.updated' AND actor_type = 'system'")
                #expect(try audited.first?.decode(Int.self) == 2)
            }
        }

        @Test("an unknown role or a taken email exits non-zero with a message, and creates nothing")
        func refusals() async throws {
            let url = try await freshDatabase()
            let unknown = await cli(["admin-user", "create", "--email", "ada@example.com", "--role", "root"], database: url)
            #expect(unknown.exitCode != 0)
            #expect(unknown.message?.contains("No role 'root'; the roles are") == true)
            #expect(unknown.message?.contains("owner") == true)
            #expect(try await inspect(url) { try await AdminUsers(database: $0).isEmpty() })

            #expect(await cli(["admin-user", "create", "--email", "ada@example.com"], database: url).succeeded)
            let taken = await cli(["admin-user", "create", "--email", "Ada@Example.com", "--role", "viewer"], database: url)
            #expect(taken.exitCode != 0)
            #expect(taken.message?.contains("An admin user with the email Ada@Example.com exists already.") == true)
            let notEmail = await cli(["admin-user", "create", "--email", "ada"], database: url)
            #expect(notEmail.message?.contains("not an email address") == true)
            let twoSources = await cli(
                ["admin-user", "create", "--email", "b@example.com", "--password-stdin", "--password-env", "P"], database: url)
            #expect(twoSources.exitCode != 0)
            #expect(twoSources.message?.contains("at most one of --password-stdin") == true)
            let unset = await cli(["admin-user", "create", "--email", "c@example.com", "--password-env", "NOT_SET"], database: url)
            #expect(unset.message?.contains("NOT_SET is not set") == true)
            let users = try await inspect(url) { try await AdminUsers(database: $0).list() }
            #expect(users.map(\.email) == ["ada@example.com"])
            #expect(users.first?.hasPassword == false)
        }

        @Test("the password never appears in any output, error message or audit entry")
        func passwordNeverShown() async throws {
            let url = try await freshDatabase()
            let environment = ["ADMIN_PASSWORD": Self.password]
            var results = [
                await cli(["admin-user", "create", "--email", "ada@example.com", "--role", "owner", "--password-env", "ADMIN_PASSWORD"],
                             database: url, environment: environment),
                await cli(["admin-user", "list"], database: url),
                await cli(["admin-user", "list", "--json"], database: url),
                await cli(["admin-user", "set-password", "ada@example.com", "--password-stdin"], database: url, input: Self.password + "-2"),
                await cli(["admin-user", "disable", "ada@example.com"], database: url),
                // Refusals quote the rule, never the password.
                await cli(["admin-user", "set-password", "ada@example.com", "--password-stdin"], database: url, input: "Kq9-short"),
                await cli(["admin-user", "create", "--email", "ada@example.com", "--password-env", "ADMIN_PASSWORD"], database: url, environment: environment),
            ]
            results.append(await cli(["admin-user", "bootstrap", "--email", "x@example.com", "--password-env", "ADMIN_PASSWORD"],
                                        database: url, environment: environment))
            #expect(results[5].message?.contains("at least 12 characters") == true)
            for result in results {
                #expect(!result.everything.contains("Kq9"), "\(result.everything)")
                #expect(!result.everything.contains("$2b$"), "a password hash was printed: \(result.everything)")
            }
            try await inspect(url) { db in
                let details = try await db.query("SELECT details::text FROM admin_actions").map { try $0.decode(String.self) }
                #expect(details.count >= 4)
                #expect(details.allSatisfy { !$0.contains("Kq9") && !$0.contains("$2b$") })
                let (_, hash) = try #require(try await AdminUsers(database: db).credentials(email: "ada@example.com"))
                #expect(await PasswordHasher(cost: 4).verify(Self.password + "-2", hash: try #require(hash)))
            }
        }

        @Test("list prints a table, or JSON with each user's roles, state and sign-in method")
        func list() async throws {
            let url = try await freshDatabase()
            #expect(await cli(["admin-user", "list"], database: url).output.contains("No admin users yet"))
            _ = await cli(["admin-user", "create", "--email", "ada@example.com", "--name", "Ada", "--role", "owner", "--password-env", "P"],
                             database: url, environment: ["P": Self.password])
            _ = await cli(["admin-user", "create", "--email", "grace@example.com", "--role", "viewer"], database: url)
            _ = await cli(["admin-user", "disable", "grace@example.com"], database: url)

            let table = await cli(["admin-user", "list"], database: url).lines
            #expect(table.count == 3)
            #expect(table[0].hasPrefix("ID") && table[0].contains("EMAIL") && table[0].contains("ROLES"))
            #expect(table[1].contains("ada@example.com") && table[1].contains("active") && table[1].contains("password") && table[1].contains("owner"))
            #expect(table[2].contains("grace@example.com") && table[2].contains("disabled") && table[2].contains("oidc") && table[2].contains("viewer"))

            let json = await cli(["admin-user", "list", "--json"], database: url).output
            let users = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
            #expect(users.map { $0["email"] as? String } == ["ada@example.com", "grace@example.com"])
            #expect(users[0]["has_password"] as? Bool == true && users[0]["display_name"] as? String == "Ada")
            #expect((users[0]["roles"] as? [[String: Any]])?.map { $0["role"] as? String } == ["owner"])
            #expect(users[1]["disabled"] as? Bool == true && users[1]["disabled_at"] is String)
            #expect(users[0]["disabled_at"] == nil && users[0]["password_hash"] == nil)
        }

        @Test("disable, enable and set-password name an unknown user in their error")
        func unknownUser() async throws {
            let url = try await freshDatabase()
            for command in ["disable", "enable"] {
                let result = await cli(["admin-user", command, "nobody@example.com"], database: url)
                #expect(result.exitCode != 0)
                #expect(result.message?.contains("No admin user 'nobody@example.com'") == true)
            }
            let missingSource = await cli(["admin-user", "set-password", "nobody@example.com"], database: url)
            #expect(missingSource.message?.contains("--password-stdin, --password-env VAR or --password-file PATH") == true)
        }
    }
}
