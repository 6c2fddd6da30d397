import Foundation
import Hummingbird
import RosterServer
import SCIM
import Testing

extension ServerSuite {
    @Suite("GET /api/v1/auth/me: who a credential is and what it may do")
    struct CurrentPrincipalTests {
        @Test("Each kind of admin credential answers its identity and its scopes, globally and per tenant")
        func identities() async throws {
            try await Roster.run { roster in
                let global = try await roster.admin(.get, "/auth/me")
                #expect(global.status == .ok, "\(global.body)")
                #expect(global.json["identity"]?["type"] == "admin_key")
                #expect(global.json["global_scopes"] == ["*"] && global.json["tenant_scopes"] == [])
                #expect(global.json["session"] == nil)

                let bootstrap = try await roster.admin(.get, "/auth/me", key: roster.bootstrapKey)
                #expect(bootstrap.json["identity"] == ["type": "bootstrap"])

                let acme = try await roster.otherTenant("acme")
                let bound = try await roster.admin(.post, "/admin-keys", body: #"{"name":"b","scopes":["scim-tokens","provisioning:read"],"tenant":"acme"}"#)
                let boundKey = try #require(bound.json["key"]?.stringValue)
                let me = try await roster.admin(.get, "/auth/me", key: boundKey)
                #expect(me.json["global_scopes"] == [])
                #expect(me.json["tenant_scopes"] == [["tenant_id": .string(acme.id), "scopes": ["scim-tokens", "provisioning:read"]]])

                let userID = try await roster.createAdminUser("grace@example.com", roles: ["auditor"])
                let session = try await roster.signIn("grace@example.com")
                let user = try await roster.admin(.get, "/auth/me", bearer: session.access)
                #expect(user.json["identity"] == ["type": "admin_user", "id": .string(userID), "email": "grace@example.com"])
                #expect(user.json["session"]?.stringValue?.isEmpty == false)
                #expect(user.json["global_scopes"] == ["metrics", "feed:read", "audit:read", "provisioning:read"])
            }
        }

        @Test("Anything but an admin credential is a 401", arguments: ["none", "scim", "refresh", "garbage"])
        func refused(kind: String) async throws {
            try await Roster.run { roster in
                let reply: Reply
                switch kind {
                case "none": reply = try await roster.send(.get, "/api/v1/auth/me")
                case "scim": reply = try await roster.admin(.get, "/auth/me", bearer: roster.scimToken)
                case "refresh":
                    try await roster.createAdminUser("ada@example.com", roles: ["owner"])
                    reply = try await roster.admin(.get, "/auth/me", bearer: try await roster.signIn("ada@example.com").refresh)
                default: reply = try await roster.admin(.get, "/auth/me", bearer: "radm_" + String(repeating: "z", count: 43))
                }
                reply.expectAdminError(.unauthorized)
            }
        }
    }
}
