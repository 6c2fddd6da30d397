import Foundation
import PostgresNIO
import RosterAuth
@testable import RosterStore
import RosterTestSupport
import Testing

extension StoreSuite {
    @Suite("SCIM tokens and admin keys")
    struct CredentialTests {
        @Test("generated secrets have their prefix and 43 URL-safe characters of 32 random bytes")
        func secretShape() {
            let token = Secret.generate(.scimToken).reveal()
            #expect(token.hasPrefix("scim_"))
            #expect(token.count == 5 + 43)
            #expect(token.dropFirst(5).allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
            #expect(Secret.generate(.scimToken).reveal() != token)
        }

        @Test("a secret never prints itself")
        func secretRedacted() {
            let secret = Secret.generate(.adminKey)
            #expect(!"\(secret)".contains(secret.reveal()))
            #expect(!String(reflecting: secret).contains(secret.reveal()))
        }

        @Test("tokens are stored only as their SHA-256")
        func storedAsHash() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url) { db in
                let tenant = try #require(try await TenantRepository(database: db).find("default"))
                let (_, secret) = try await ScimTokenRepository(database: db).create(tenant: tenant.id, name: "Entra", by: .system)
                let dump = try await db.query("SELECT row_to_json(t)::text FROM scim_tokens t")
                    .map { try $0.decode(String.self) }.joined()
                #expect(!dump.contains(secret.reveal()))
                #expect(!dump.contains(String(secret.reveal().dropFirst(5))))
            }
        }

        @Test("revoked and expired tokens no longer authenticate")
        func revokedAndExpired() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url) { db in
                let tokens = ScimTokenRepository(database: db)
                let tenant = try #require(try await TenantRepository(database: db).find("default"))
                let (record, secret) = try await tokens.create(tenant: tenant.id, name: "a", by: .system)
                #expect(try await tokens.authenticate(secret) == ScimPrincipal(tenantID: tenant.id, tokenID: record.id))
                _ = try await tokens.revoke(tenant: tenant.id, id: record.id, by: .system)
                #expect(try await tokens.authenticate(secret) == nil)

                let (expiring, expiringSecret) = try await tokens.create(tenant: tenant.id, name: "b", expires: Date().addingTimeInterval(3600), by: .system)
                #expect(try await tokens.authenticate(expiringSecret) != nil)
                try await db.query("UPDATE scim_tokens SET expires = now() - interval '1 second' WHERE id = \(expiring.id)")
                #expect(try await tokens.authenticate(expiringSecret) == nil)
            }
        }

        @Test("last_used is written at most once a minute, not on every request")
        func lastUsedThrottled() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url) { db in
                let tokens = ScimTokenRepository(database: db)
                let tenant = try #require(try await TenantRepository(database: db).find("default"))
                let (record, secret) = try await tokens.create(tenant: tenant.id, name: "a", by: .system)
                func lastUsed() async throws -> Date? {
                    try await tokens.list(tenant: tenant.id).first { $0.id == record.id }?.lastUsed
                }
                #expect(try await lastUsed() == nil)
                _ = try await tokens.authenticate(secret)
                let first = try #require(try await lastUsed())
                for _ in 0..<5 { _ = try await tokens.authenticate(secret) }
                #expect(try await lastUsed() == first)
                try await db.query("UPDATE scim_tokens SET last_used = now() - interval '2 minutes' WHERE id = \(record.id)")
                _ = try await tokens.authenticate(secret)
                #expect(try #require(try await lastUsed()) > first.addingTimeInterval(-1))
                #expect(try #require(try await lastUsed()) >= first)
            }
        }

        @Test("an admin key authenticates with its scopes and tenant binding")
        func adminKeys() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url) { db in
                let keys = AdminKeyRepository(database: db)
                let tenant = try await TenantRepository(database: db).create(name: "acme", by: .system)
                let (record, secret) = try await keys.create(name: "acme ops", tenant: tenant.id, scopes: [.scimTokens], by: .system)
                let key = try #require(try await keys.authenticate(secret))
                #expect(key.tenantID == tenant.id)
                #expect(key.grants.allows(.scimTokens, in: tenant.id))
                #expect(!key.grants.allows(.scimTokens, in: nil))
                #expect(!key.grants.allowsSomewhere(.tenants))
                _ = try await keys.revoke(id: record.id, by: .system)
                #expect(try await keys.authenticate(secret) == nil)
            }
        }

        @Test("the bootstrap key compares whole keys and refuses short ones")
        func bootstrapKey() throws {
            let key = Secret.generate(.adminKey).reveal()
            let bootstrap = try #require(BootstrapAdminKey(key))
            #expect(bootstrap.matches(key))
            #expect(!bootstrap.matches(String(key.dropLast()) + "x"))
            #expect(BootstrapAdminKey("short") == nil)
        }
    }
}
