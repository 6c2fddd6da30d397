import Foundation
import RosterAuth
import RosterStore
import Testing

@testable import roster

extension CLISuite {
    @Suite("roster admin-key create --scopes, --expires, --owner")
    struct AdminKeyCommandTests {
        static func key(_ result: CLIResult) -> String? {
            result.output.firstMatch(of: /radm_[A-Za-z0-9_-]{43}/).map { String($0.output) }
        }

        @Test("--owner refuses scopes the owner's roles do not grant where the key acts, and accepts those they do")
        func ownerRights() async throws {
            let url = try await freshDatabase()
            #expect(await cli(["tenant", "create", "acme"], database: url).succeeded)
            _ = await cli(["admin-user", "create", "--email", "ada@example.com", "--role", "auditor"], database: url)
            // Ada administers acme only, through a grant on that tenant.
            try await inspect(url) { db in
                let ada = try #require(try await AdminUsers(database: db).find(email: "ada@example.com"))
                let admin = try #require(try await AdminRoles(database: db).find("admin"))
                let acme = try #require(try await TenantRepository(database: db).find("acme"))
                _ = try await AdminRoles(database: db).grant(admin, to: .user(ada.id), on: acme.id, by: .system)
            }

            let wider = await cli(["admin-key", "create", "--name", "ci", "--owner", "ada@example.com", "--scopes", "audit:read,webhooks"], database: url)
            #expect(wider.exitCode != 0)
            #expect(wider.message?.contains("does not hold the 'webhooks' scope on every tenant") == true)
            #expect(Self.key(wider) == nil)
            let everything = await cli(["admin-key", "create", "--name", "ci", "--owner", "ada@example.com"], database: url)
            #expect(everything.message?.contains("'*' scope") == true)

            let global = await cli(["admin-key", "create", "--name", "audit", "--owner", "ada@example.com", "--scopes", "audit:read,feed:read"], database: url)
            #expect(global.succeeded, "\(global.everything)")
            #expect(global.output.contains("owned by ada@example.com"))
            #expect(Self.key(global) != nil)
            let onAcme = await cli(
                ["admin-key", "create", "--name", "acme ci", "--owner", "ada@example.com", "--tenant", "acme", "--scope", "webhooks", "--scope", "scim-tokens"],
                database: url)
            #expect(onAcme.succeeded, "\(onAcme.everything)")

            let keys = try await inspect(url) { db in try await AdminKeyRepository(database: db).list() }
            let ada = try await inspect(url) { db in try await AdminUsers(database: db).find(email: "ada@example.com") }
            #expect(keys.count == 2)
            #expect(keys.allSatisfy { $0.owner == ada?.id })
            #expect(keys.map(\.scopes) == [[.auditRead, .feedRead], [.webhooks, .scimTokens]])
            let listed = await cli(["admin-key", "list"], database: url).output
            #expect(listed.contains("owner ada@example.com"))
            #expect(Self.key(CLIResult(lines: [listed])) == nil)
        }

        @Test("--owner naming a disabled or unknown user is refused")
        func ownerMustBeEnabled() async throws {
            let url = try await freshDatabase()
            _ = await cli(["admin-user", "create", "--email", "ada@example.com", "--role", "owner"], database: url)
            _ = await cli(["admin-user", "disable", "ada@example.com"], database: url)
            let disabled = await cli(["admin-key", "create", "--name", "x", "--owner", "ada@example.com", "--scopes", "tenants"], database: url)
            #expect(disabled.message?.contains("ada@example.com is disabled") == true)
            let unknown = await cli(["admin-key", "create", "--name", "x", "--owner", "nobody@example.com"], database: url)
            #expect(unknown.message?.contains("No admin user 'nobody@example.com'") == true)
            #expect(try await inspect(url) { try await AdminKeyRepository(database: $0).list() }.isEmpty)
        }

        @Test("--expires stores the moment it names, and a key without an owner is a service key as before")
        func expiresStored() async throws {
            let url = try await freshDatabase()
            let dated = await cli(["admin-key", "create", "--name", "dated", "--scopes", "metrics", "--expires", "2099-01-31T12:00:00Z"], database: url)
            #expect(dated.succeeded, "\(dated.everything)")
            #expect(dated.output.contains("expires 2099-01-31T12:00:00Z"))
            let before = Date()
            let relative = await cli(["admin-key", "create", "--name", "relative", "--expires", "90d"], database: url)
            #expect(relative.succeeded, "\(relative.everything)")
            let past = await cli(["admin-key", "create", "--name", "past", "--expires", "2001-01-01"], database: url)
            #expect(past.exitCode != 0)
            #expect(past.message?.contains("must lie in the future") == true)

            let keys = try await inspect(url) { db in try await AdminKeyRepository(database: db).list() }
            #expect(keys.map(\.name) == ["dated", "relative"])
            #expect(keys[0].expires == Date(timeIntervalSince1970: 4_073_544_000))
            let ninetyDays = try #require(keys[1].expires).timeIntervalSince(before)
            #expect(abs(ninetyDays - 90 * 86_400) < 60)
            #expect(keys.allSatisfy { $0.owner == nil })
            #expect(keys[1].scopes == [.all])
            #expect(await cli(["admin-key", "list"], database: url).output.contains("expires 2099-01-31T12:00:00Z"))
        }

        @Test("--scopes is comma-separated or repeated, each scope once; an unknown scope is refused")
        func scopes() throws {
            #expect(try AdminScope.parse([]) == [.all])
            #expect(try AdminScope.parse(["tenants,webhooks", "tenants", " audit:read "]) == [.tenants, .webhooks, .auditRead])
            #expect(throws: (any Error).self) { try AdminScope.parse(["tenants,root"]) }
            #expect(throws: (any Error).self) { try AdminScope.parse([","]) }
        }
    }

    @Suite("--expires parsing")
    struct ExpiryTests {
        static let now = Date(timeIntervalSince1970: 1_800_000_000)  // 2027-01-15T08:00:00Z

        @Test("durations count from now: minutes, hours, days, weeks")
        func durations() throws {
            #expect(try Expiry.parse("30m", now: Self.now) == Self.now + 1800)
            #expect(try Expiry.parse("12h", now: Self.now) == Self.now + 43_200)
            #expect(try Expiry.parse("90d", now: Self.now) == Self.now + 90 * 86_400)
            #expect(try Expiry.parse("2w", now: Self.now) == Self.now + 14 * 86_400)
        }

        @Test("RFC 3339 date-times with offsets, fractions and lowercase t/z, and plain dates at midnight UTC")
        func dates() throws {
            #expect(try Expiry.parse("2027-01-31T00:00:00Z", now: Self.now) == Date(timeIntervalSince1970: 1_801_353_600))
            #expect(try Expiry.parse("2027-01-31t02:00:00+02:00", now: Self.now) == Date(timeIntervalSince1970: 1_801_353_600))
            #expect(try Expiry.parse("2027-01-31T00:00:00.500z", now: Self.now) == Date(timeIntervalSince1970: 1_801_353_600.5))
            #expect(try Expiry.parse("2027-01-31", now: Self.now) == Date(timeIntervalSince1970: 1_801_353_600))
        }

        @Test("the past, zero, a missing offset, unknown units and words are refused")
        func refusals() {
            for text in ["2027-01-01T00:00:00Z", "2020-01-01", "0d", "2027-01-31T00:00:00", "90", "3y", "-5d", "tomorrow", "", "2027-13-01"] {
                #expect(throws: (any Error).self, "\(text)") { try Expiry.parse(text, now: Self.now) }
            }
        }
    }
}
