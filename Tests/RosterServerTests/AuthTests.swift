import Foundation
import HTTPTypes
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Credentials: SCIM tokens and admin keys stay apart")
    struct AuthTests {
        @Test("no token, a malformed header or an unknown token is 401 with a SCIM error and WWW-Authenticate")
        func missingOrInvalid() async throws {
            try await Roster.run { roster in
                let none = try await roster.send(.get, "/scim/v2/Users")
                none.expectScimError(.unauthorized)
                #expect(none.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                try await roster.send(.get, "/scim/v2/Users", headers: [.authorization: "Basic Zm9vOmJhcg=="]).expectScimError(.unauthorized)
                try await roster.scim(.get, "/Users", token: "scim_" + String(repeating: "A", count: 43)).expectScimError(.unauthorized)
                try await roster.scim(.get, "/Users", token: "garbage").expectScimError(.unauthorized)
            }
        }

        @Test("an admin key on /scim/v2 is 401 naming the credential SCIM expects")
        func adminKeyOnScim() async throws {
            try await Roster.run { roster in
                for key in [roster.adminKey, roster.bootstrapKey] {
                    let reply = try await roster.scim(.get, "/Users", token: key)
                    reply.expectScimError(.unauthorized)
                    #expect(reply.json["detail"]?.stringValue?.contains("admin API key") == true)
                    #expect(reply.json["detail"]?.stringValue?.contains("SCIM bearer token") == true)
                }
            }
        }

        @Test("a SCIM token on /api/v1 is 401 naming the credential the admin API expects")
        func scimTokenOnAdmin() async throws {
            try await Roster.run { roster in
                for reply in [
                    try await roster.admin(.get, "/tenants", key: roster.scimToken),
                    try await roster.send(.get, "/api/v1/tenants", headers: [.authorization: "Bearer \(roster.scimToken)"]),
                ] {
                    reply.expectAdminError(.unauthorized)
                    #expect(reply.json["error"]?["message"]?.stringValue?.contains("SCIM token") == true)
                    #expect(reply.json["error"]?["message"]?.stringValue?.contains("admin API key") == true)
                }
            }
        }

        @Test("a revoked token gets 401 on its next request")
        func revokedToken() async throws {
            try await Roster.run { roster in
                let created = try await roster.admin(.post, "/scim/tokens", body: #"{"name":"Okta"}"#)
                let token = try #require(created.json["token"]?.stringValue)
                let id = try #require(created.json["id"]?.stringValue)
                #expect(try await roster.scim(.get, "/Users", token: token).status == .ok)
                #expect(try await roster.admin(.delete, "/scim/tokens/\(id)").status == .ok)
                try await roster.scim(.get, "/Users", token: token).expectScimError(.unauthorized)
            }
        }

        @Test("the admin API accepts its key as X-Admin-API-Key or as a bearer token, and the bootstrap key")
        func adminKeyForms() async throws {
            try await Roster.run { roster in
                #expect(try await roster.admin(.get, "/tenants").status == .ok)
                #expect(try await roster.send(.get, "/api/v1/tenants", headers: [.authorization: "Bearer \(roster.adminKey)"]).status == .ok)
                #expect(try await roster.admin(.get, "/tenants", key: roster.bootstrapKey).status == .ok)
                try await roster.send(.get, "/api/v1/tenants").expectAdminError(.unauthorized)
                try await roster.admin(.get, "/tenants", key: "radm_" + String(repeating: "x", count: 43)).expectAdminError(.unauthorized)
            }
        }

        @Test("secrets never appear in error bodies")
        func noSecretsInErrors() async throws {
            try await Roster.run { roster in
                let replies = [
                    try await roster.scim(.get, "/Users", token: roster.adminKey),
                    try await roster.admin(.get, "/tenants", key: roster.scimToken),
                    try await roster.scim(.get, "/Users", token: roster.scimToken + "x"),
                ]
                for reply in replies {
                    #expect(!reply.body.contains(roster.adminKey))
                    #expect(!reply.body.contains(roster.scimToken))
                }
            }
        }
    }
}
