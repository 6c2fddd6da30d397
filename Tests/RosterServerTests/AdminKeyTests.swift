import Foundation
import HTTPTypes
import RosterAuth
import RosterStore
import RosterServer
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Admin API: admin keys")
    struct AdminKeyTests {
        /// A key made directly in the store, for the tenant named (nil: global).
        func storeKey(_ roster: Roster, tenant: String?, scopes: [AdminScope]) async throws -> String {
            try await withDatabase(url: roster.databaseURL, logger: TestPostgres.require().logger) { db in
                let id = try await tenant.asyncMap { try #require(try await TenantRepository(database: db).find($0)).id }
                return try await AdminKeyRepository(database: db).create(name: "fixture", tenant: id, scopes: scopes, by: .system).1.reveal()
            }
        }

        @Test("POST /admin-keys returns the secret once; it works, listings never show it, DELETE revokes it")
        func lifecycle() async throws {
            try await Roster.run { roster in
                let created = try await roster.admin(.post, "/admin-keys", body: #"{"name":"ops","scopes":["tenants"]}"#)
                #expect(created.status == .created, "\(created.body)")
                let key = try #require(created.json["key"]?.stringValue)
                let id = try #require(created.json["id"]?.stringValue)
                #expect(key.hasPrefix("radm_"))
                #expect(created.json["scopes"] == ["tenants"])
                #expect(created.json["tenant_id"] == nil)
                #expect(try await roster.admin(.get, "/tenants", key: key).status == .ok)
                try await roster.admin(.get, "/scim/tokens", key: key).expectAdminError(.forbidden)
                let list = try await roster.admin(.get, "/admin-keys")
                #expect(!list.body.contains(key))
                #expect(list.json["data"]?.arrayValue?.contains { $0["id"] == .string(id) } == true)
                #expect(try await roster.admin(.get, "/admin-keys/\(id)").json["name"] == "ops")
                let revoked = try await roster.admin(.delete, "/admin-keys/\(id)")
                #expect(revoked.status == .ok)
                #expect(revoked.json["revoked"]?.stringValue != nil)
                try await roster.admin(.get, "/tenants", key: key).expectAdminError(.unauthorized)
            }
        }

        @Test("bad bodies are 400 naming the field; unknown ids are 404")
        func invalidInput() async throws {
            try await Roster.run { roster in
                try await roster.admin(.post, "/admin-keys", body: #"{"name":"x","scopes":[]}"#).expectAdminError(.badRequest)
                let unknownScope = try await roster.admin(.post, "/admin-keys", body: #"{"name":"x","scopes":["root"]}"#)
                unknownScope.expectAdminError(.badRequest)
                #expect(unknownScope.json["error"]?["message"]?.stringValue?.contains("scopes") == true, "\(unknownScope.body)")
                let noName = try await roster.admin(.post, "/admin-keys", body: #"{"scopes":["*"]}"#)
                noName.expectAdminError(.badRequest)
                #expect(noName.json["error"]?["message"]?.stringValue?.contains("'name' is required") == true, "\(noName.body)")
                try await roster.admin(.post, "/admin-keys", body: #"{"name":"x","scopes":["*"],"tenant":"nope"}"#).expectAdminError(.notFound)
                try await roster.admin(.get, "/admin-keys/\(UUID().uuidString)").expectAdminError(.notFound)
                // U+0000 cannot be stored by PostgreSQL: a client error, never a 5xx.
                try await roster.admin(.post, "/admin-keys", body: #"{"name":"a\u0000b","scopes":["*"]}"#).expectAdminError(.badRequest)
                try await roster.admin(.post, "/scim/tokens", body: #"{"name":"\u0000"}"#).expectAdminError(.badRequest)
                try await roster.admin(.get, "/tenants/a%00b/scim/tokens").expectAdminError(.notFound)
                try await roster.admin(.get, "/admin-keys/not-a-uuid").expectAdminError(.notFound)
                try await roster.admin(.delete, "/admin-keys/\(UUID().uuidString)").expectAdminError(.notFound)
            }
        }

        @Test("a global key binds a new key to a tenant; that key acts only there")
        func globalCreatesTenantKey() async throws {
            try await Roster.run { roster in
                let acme = try await roster.otherTenant("acme")
                let created = try await roster.admin(.post, "/admin-keys", body: #"{"name":"acme-ci","scopes":["scim-tokens"],"tenant":"acme"}"#)
                #expect(created.json["tenant_id"] == .string(acme.id))
                let key = try #require(created.json["key"]?.stringValue)
                let token = try await roster.admin(.post, "/scim/tokens", key: key, body: #"{"name":"ci"}"#)
                #expect(token.json["tenant_id"] == .string(acme.id))
            }
        }

        @Test("a tenant-bound key manages only its tenant's keys and never grants a scope it lacks")
        func tenantBoundKeyLimits() async throws {
            try await Roster.run { roster in
                _ = try await roster.otherTenant("acme")
                let globex = try await roster.otherTenant("globex")
                let acmeKey = try await storeKey(roster, tenant: "acme", scopes: [.adminKeys, .scimTokens])
                let globexKeyID = try #require(
                    try await roster.admin(.post, "/admin-keys", body: #"{"name":"g","scopes":["scim-tokens"],"tenant":"globex"}"#).json["id"]?.stringValue)

                let own = try await roster.admin(.post, "/admin-keys", key: acmeKey, body: #"{"name":"acme-sub","scopes":["scim-tokens"]}"#)
                #expect(own.status == .created, "\(own.body)")
                #expect(own.json["tenant_id"] != nil)
                #expect(own.json["tenant_id"] != .string(globex.id))
                try await roster.admin(.post, "/admin-keys", key: acmeKey, body: #"{"name":"up","scopes":["tenants"]}"#).expectAdminError(.forbidden)
                try await roster.admin(.post, "/admin-keys", key: acmeKey, body: #"{"name":"all","scopes":["*"]}"#).expectAdminError(.forbidden)
                try await roster.admin(.post, "/admin-keys", key: acmeKey, body: #"{"name":"x","scopes":["scim-tokens"],"tenant":"globex"}"#)
                    .expectAdminError(.notFound)

                let listed = try await roster.admin(.get, "/admin-keys", key: acmeKey)
                let tenants = Set(listed.json["data"]?.arrayValue?.map { $0["tenant_id"] } ?? [])
                #expect(tenants.count == 1 && !tenants.contains(nil) && !tenants.contains(.string(globex.id)), "\(listed.body)")
                try await roster.admin(.get, "/admin-keys/\(globexKeyID)", key: acmeKey).expectAdminError(.notFound)
                try await roster.admin(.delete, "/admin-keys/\(globexKeyID)", key: acmeKey).expectAdminError(.notFound)
                #expect(try await roster.admin(.get, "/admin-keys/\(globexKeyID)").json["revoked"] == nil)
            }
        }

        @Test("a key without the admin-keys scope cannot touch keys")
        func scopeRequired() async throws {
            try await Roster.run { roster in
                let key = try await storeKey(roster, tenant: nil, scopes: [.tenants, .scimTokens])
                try await roster.admin(.get, "/admin-keys", key: key).expectAdminError(.forbidden)
                try await roster.admin(.post, "/admin-keys", key: key, body: #"{"name":"x","scopes":["tenants"]}"#).expectAdminError(.forbidden)
            }
        }
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
