import Foundation
import HTTPTypes
import RosterAuth
import RosterStore
import RosterServer
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Admin API: tenants and SCIM tokens")
    struct AdminTests {
        @Test("tenants: the default exists; create, list and get by name or id")
        func tenants() async throws {
            try await Roster.run { roster in
                let list = try await roster.admin(.get, "/tenants")
                #expect(list.json["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["default"])
                let created = try await roster.admin(.post, "/tenants", body: #"{"name":"acme"}"#)
                #expect(created.status == .created)
                let id = try #require(created.json["id"]?.stringValue)
                #expect(try await roster.admin(.get, "/tenants/acme").json["id"] == .string(id))
                #expect(try await roster.admin(.get, "/tenants/\(id)").json["name"] == "acme")
                try await roster.admin(.get, "/tenants/nope").expectAdminError(.notFound)
                try await roster.admin(.post, "/tenants", body: #"{"name":"acme"}"#).expectAdminError(.conflict)
                try await roster.admin(.post, "/tenants", body: #"{"name":"Not Valid!"}"#).expectAdminError(.badRequest)
                try await roster.admin(.post, "/tenants", body: "{").expectAdminError(.badRequest)
            }
        }

        @Test("POST /scim/tokens returns the secret once; GET lists everything but the secret")
        func tokens() async throws {
            try await Roster.run { roster in
                let created = try await roster.admin(.post, "/scim/tokens", body: #"{"name":"Entra ID","expires_at":"2999-01-01T00:00:00Z"}"#)
                #expect(created.status == .created)
                let token = try #require(created.json["token"]?.stringValue)
                #expect(token.hasPrefix("scim_"))
                #expect(created.json["prefix"]?.stringValue.map { token.hasPrefix($0) } == true)
                #expect(created.json["scim_base_url"] == .string(Roster.scimBase))
                let list = try await roster.admin(.get, "/scim/tokens")
                #expect(!list.body.contains(token))
                let names = list.json["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
                #expect(names?.contains("Entra ID") == true)
                #expect(list.json["data"]?.arrayValue?.allSatisfy { $0["token"] == nil } == true)
                try await roster.admin(.post, "/scim/tokens", body: #"{"name":""}"#).expectAdminError(.badRequest)
                try await roster.admin(.post, "/scim/tokens", body: #"{"name":"x","expires_at":"2001-01-01T00:00:00Z"}"#)
                    .expectAdminError(.badRequest)
                try await roster.admin(.delete, "/scim/tokens/\(UUID().uuidString)").expectAdminError(.notFound)
            }
        }

        @Test("a token made for a named tenant acts in that tenant")
        func tokensPerTenant() async throws {
            try await Roster.run { roster in
                let other = try await roster.otherTenant("acme")
                _ = try await roster.scim(.post, "/Users", token: other.token, body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x"}"#)
                #expect(try await roster.scim(.get, "/Users", token: other.token).json["totalResults"] == 1)
                #expect(try await roster.scim(.get, "/Users").json["totalResults"] == 0)
                let listed = try await roster.admin(.get, "/tenants/acme/scim/tokens")
                #expect(listed.json["data"]?.arrayValue?.allSatisfy { $0["tenant_id"] == .string(other.id) } == true)
            }
        }

        @Test("a tenant-bound key acts on its own tenant only; scopes are enforced")
        func tenantBoundKey() async throws {
            try await Roster.run { roster in
                let acme = try await roster.otherTenant("acme")
                _ = try await roster.otherTenant("globex")
                let key = try await withDatabase(url: roster.databaseURL, logger: TestPostgres.require().logger) { db in
                    try await AdminKeyRepository(database: db).create(
                        name: "acme", tenant: UUID(uuidString: acme.id), scopes: [.scimTokens], by: .system).1.reveal()
                }
                let mine = try await roster.admin(.post, "/scim/tokens", key: key, body: #"{"name":"mine"}"#)
                #expect(mine.status == .created)
                #expect(mine.json["tenant_id"] == .string(acme.id))
                #expect(try await roster.admin(.get, "/tenants/acme/scim/tokens", key: key).status == .ok)
                try await roster.admin(.get, "/tenants/globex/scim/tokens", key: key).expectAdminError(.notFound)
                try await roster.admin(.get, "/tenants/default/scim/tokens", key: key).expectAdminError(.notFound)
                try await roster.admin(.get, "/tenants", key: key).expectAdminError(.forbidden)
            }
        }

        @Test("only a global key creates tenants")
        func tenantCreationNeedsGlobalKey() async throws {
            try await Roster.run { roster in
                let acme = try await roster.otherTenant("acme")
                let key = try await withDatabase(url: roster.databaseURL, logger: TestPostgres.require().logger) { db in
                    try await AdminKeyRepository(database: db).create(name: "acme", tenant: UUID(uuidString: acme.id), scopes: [.all], by: .system).1.reveal()
                }
                try await roster.admin(.post, "/tenants", key: key, body: #"{"name":"new"}"#).expectAdminError(.forbidden)
                let visible = try await roster.admin(.get, "/tenants", key: key)
                #expect(visible.json["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["acme"])
            }
        }
    }
}
