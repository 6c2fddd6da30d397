import Foundation
import HTTPTypes
import RosterServer
import RosterStore
import SCIM
import Testing

extension ServerSuite {
    @Suite("Admin identity: users, roles, sessions")
    struct AdminIdentityTests {
        @Test("admin users: created with a role, emails unique case-insensitively, never a password in a body, disabled and deleted")
        func users() async throws {
            try await Roster.run { roster in
                let id = try await roster.createAdminUser("ada@example.com", roles: ["auditor"])
                let duplicate = try await roster.admin(.post, "/admin/users", body: #"{"email":"ADA@example.com"}"#)
                duplicate.expectAdminError(.conflict)
                let list = try await roster.admin(.get, "/admin/users")
                #expect(list.json["data"]?.arrayValue?.count == 1)
                #expect(!list.body.contains(Roster.password) && !list.body.contains("$2b$"))
                #expect(try await roster.admin(.get, "/admin/users/\(id)").json["has_password"] == true)
                try await roster.admin(.post, "/admin/users", body: #"{"email":"bob@example.com","password":"short"}"#)
                    .expectAdminError(.badRequest)
                try await roster.admin(.post, "/admin/users", body: #"{"email":"not-an-email"}"#).expectAdminError(.badRequest)
                try await roster.admin(.post, "/admin/users", body: #"{"email":"c@example.com","roles":["nope"]}"#).expectAdminError(.badRequest)
                // Null is not "unchanged": the schema forbids it, so it is a 400, not a silent no-op.
                try await roster.admin(.patch, "/admin/users/\(id)", body: #"{"disabled":null}"#).expectAdminError(.badRequest)
                try await roster.admin(.put, "/tenants/default/rate-limit", body: #"{"admin":null,"scim":{"requests":5,"window_seconds":1}}"#)
                    .expectAdminError(.badRequest)
                let disabled = try await roster.admin(.patch, "/admin/users/\(id)", body: #"{"disabled":true}"#)
                #expect(disabled.json["disabled"] == true, "\(disabled.body)")
                try await roster.anonymous(.post, "/auth/token", body: #"{"email":"ada@example.com","password":"\#(Roster.password)"}"#)
                    .expectAdminError(.unauthorized)
                #expect(try await roster.admin(.delete, "/admin/users/\(id)").status == .noContent)
                try await roster.admin(.get, "/admin/users/\(id)").expectAdminError(.notFound)
            }
        }

        @Test("roles: four built-ins that cannot change, custom roles of scopes, granted to a user on one tenant")
        func roles() async throws {
            try await Roster.run { roster in
                let roles = try await roster.admin(.get, "/admin/roles")
                let names = roles.json["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
                #expect(Set(names) == ["owner", "admin", "auditor", "viewer"])
                try await roster.admin(.patch, "/admin/roles/owner", body: #"{"scopes":["tenants"]}"#).expectAdminError(.badRequest)
                try await roster.admin(.delete, "/admin/roles/viewer").expectAdminError(.badRequest)
                let created = try await roster.admin(
                    .post, "/admin/roles", body: #"{"name":"provisioning","scopes":["scim-tokens"]}"#)
                #expect(created.status == .created, "\(created.body)")
                try await roster.admin(.post, "/admin/roles", body: #"{"name":"provisioning","scopes":["tenants"]}"#).expectAdminError(.conflict)
                try await roster.admin(.post, "/admin/roles", body: #"{"name":"Bad Name","scopes":["tenants"]}"#).expectAdminError(.badRequest)

                _ = try await roster.otherTenant("acme")
                let user = try await roster.createAdminUser("ops@example.com")
                let grant = try await roster.admin(
                    .post, "/admin/roles/provisioning/grants", body: #"{"user_id":"\#(user)","tenant":"acme"}"#)
                #expect(grant.status == .created, "\(grant.body)")
                let session = try await roster.signIn("ops@example.com")
                #expect(try await roster.admin(.get, "/tenants/acme/scim/tokens", bearer: session.access).status == .ok)
                // Another tenant's objects do not exist for it; a route without the scope names the scope.
                try await roster.admin(.get, "/tenants/default/scim/tokens", bearer: session.access).expectAdminError(.notFound)
                let forbidden = try await roster.admin(.get, "/webhooks", bearer: session.access)
                forbidden.expectAdminError(.forbidden)
                #expect(forbidden.json["error"]?["message"]?.stringValue?.contains("'webhooks'") == true)

                let grantID = try #require(grant.json["id"]?.stringValue)
                #expect(try await roster.admin(.delete, "/admin/grants/\(grantID)").status == .noContent)
                try await roster.admin(.get, "/tenants/acme/scim/tokens", bearer: session.access).expectAdminError(.forbidden)
            }
        }

        @Test("sign in: an access JWT that works on the admin API only, a wrong password is 401, both are audited")
        func signIn() async throws {
            try await Roster.run { roster in
                let user = try await roster.createAdminUser("ada@example.com", roles: ["admin"])
                let reply = try await roster.anonymous(.post, "/auth/token", body: #"{"email":"Ada@Example.com","password":"\#(Roster.password)"}"#)
                #expect(reply.status == .ok, "\(reply.body)")
                #expect(reply.headers[.cacheControl] == "no-store")
                #expect(reply.json["token_type"] == "Bearer")
                #expect(reply.json["expires_in"] == .integer(3600))
                #expect(reply.json["refresh_expires_in"] == .integer(86_400))
                let access = try #require(reply.json["access_token"]?.stringValue)
                #expect(try await roster.admin(.get, "/tenants", bearer: access).status == .ok)
                // A role without a scope: admin has no admin-users.
                try await roster.admin(.get, "/admin/users", bearer: access).expectAdminError(.forbidden)
                // Never on SCIM, and SCIM says which credential it got.
                let onScim = try await roster.scim(.get, "/Users", token: access)
                onScim.expectScimError(.unauthorized)
                #expect(onScim.json["detail"]?.stringValue?.contains("admin access token") == true, "\(onScim.body)")

                try await roster.anonymous(.post, "/auth/token", body: #"{"email":"ada@example.com","password":"wrong password!!"}"#)
                    .expectAdminError(.unauthorized)
                try await roster.anonymous(.post, "/auth/token", body: #"{"email":"nobody@example.com","password":"wrong password!!"}"#)
                    .expectAdminError(.unauthorized)
                let audit = try await roster.admin(.get, "/audit?action=auth.login,auth.login_failed")
                let entries = audit.json["data"]?.arrayValue ?? []
                #expect(entries.map { $0["action"]?.stringValue } == ["auth.login", "auth.login_failed", "auth.login_failed"], "\(audit.body)")
                #expect(entries[0]["actor"]?["id"] == .string(user))
                #expect(entries[1]["details"]?["email"] == "ada@example.com")
                #expect(entries[2]["target"]?["id"] == nil)
                #expect(!audit.body.contains("wrong password"))
            }
        }

        @Test("failed logins are throttled per account: the sixth attempt is 429 with Retry-After, even with the right password")
        func throttling() async throws {
            try await Roster.run { roster in
                _ = try await roster.createAdminUser("ada@example.com", roles: ["viewer"])
                for _ in 0..<5 {
                    try await roster.anonymous(.post, "/auth/token", body: #"{"email":"ada@example.com","password":"guess guess guess"}"#)
                        .expectAdminError(.unauthorized)
                }
                let throttled = try await roster.anonymous(
                    .post, "/auth/token", body: #"{"email":"ada@example.com","password":"\#(Roster.password)"}"#)
                throttled.expectAdminError(.tooManyRequests)
                let retryAfter = try #require(throttled.headers[.retryAfter].flatMap { Int($0) })
                #expect((1...900).contains(retryAfter))
                // Another account is not throttled by Ada's failures.
                _ = try await roster.createAdminUser("bob@example.com", roles: ["viewer"])
                _ = try await roster.signIn("bob@example.com")
            }
        }

        @Test("refresh rotates the refresh token; presenting a used one ends the whole session")
        func refreshRotation() async throws {
            try await Roster.run { roster in
                _ = try await roster.createAdminUser("ada@example.com", roles: ["admin"])
                let first = try await roster.signIn("ada@example.com")
                let rotated = try await roster.anonymous(.post, "/auth/refresh", body: #"{"refresh_token":"\#(first.refresh)"}"#)
                #expect(rotated.status == .ok, "\(rotated.body)")
                let second = try #require(rotated.json["refresh_token"]?.stringValue)
                let access = try #require(rotated.json["access_token"]?.stringValue)
                #expect(second != first.refresh)
                #expect(try await roster.admin(.get, "/tenants", bearer: access).status == .ok)
                // The first token again: theft. The session ends: its newest refresh token and its access tokens stop.
                try await roster.anonymous(.post, "/auth/refresh", body: #"{"refresh_token":"\#(first.refresh)"}"#)
                    .expectAdminError(.unauthorized)
                try await roster.anonymous(.post, "/auth/refresh", body: #"{"refresh_token":"\#(second)"}"#).expectAdminError(.unauthorized)
                try await roster.admin(.get, "/tenants", bearer: access).expectAdminError(.unauthorized)
                let audit = try await roster.admin(.get, "/audit?action=auth.refresh_reused")
                #expect(audit.json["data"]?.arrayValue?.count == 1, "\(audit.body)")
                try await roster.anonymous(.post, "/auth/refresh", body: #"{"refresh_token":"rrt_not-a-real-token-at-all"}"#)
                    .expectAdminError(.unauthorized)
            }
        }

        @Test("revoke ends a session: its refresh token and access tokens stop working")
        func revoke() async throws {
            try await Roster.run { roster in
                _ = try await roster.createAdminUser("ada@example.com", roles: ["admin"])
                let session = try await roster.signIn("ada@example.com")
                let other = try await roster.signIn("ada@example.com")
                let revoked = try await roster.anonymous(.post, "/auth/revoke", body: #"{"refresh_token":"\#(session.refresh)"}"#)
                #expect(revoked.status == .noContent)
                try await roster.admin(.get, "/tenants", bearer: session.access).expectAdminError(.unauthorized)
                try await roster.anonymous(.post, "/auth/refresh", body: #"{"refresh_token":"\#(session.refresh)"}"#)
                    .expectAdminError(.unauthorized)
                // Only that session: the other one goes on.
                #expect(try await roster.admin(.get, "/tenants", bearer: other.access).status == .ok)
                #expect(try await roster.anonymous(.post, "/auth/revoke", body: #"{"refresh_token":"rrt_unknown-token-value"}"#).status == .noContent)
            }
        }

        @Test("an admin key signs in for a session with the key's rights; a key a user owns never exceeds the user")
        func keys() async throws {
            try await Roster.run { roster in
                let keySession = try await roster.anonymous(.post, "/auth/token", body: #"{"admin_key":"\#(roster.adminKey)"}"#)
                #expect(keySession.status == .ok, "\(keySession.body)")
                let access = try #require(keySession.json["access_token"]?.stringValue)
                #expect(try await roster.admin(.get, "/admin/users", bearer: access).status == .ok)

                let user = try await roster.createAdminUser("ada@example.com", roles: ["admin"])
                let ada = try await roster.signIn("ada@example.com")
                let created = try await roster.admin(.post, "/admin-keys", bearer: ada.access, body: #"{"name":"ada ci","scopes":["tenants","webhooks"]}"#)
                #expect(created.status == .created, "\(created.body)")
                let key = try #require(created.json["key"]?.stringValue)
                let keyID = try #require(created.json["id"]?.stringValue)
                #expect(try await roster.admin(.get, "/admin-keys/\(keyID)").json["owner_id"] == .string(user))
                #expect(try await roster.admin(.get, "/tenants", key: key).status == .ok)
                // Ada cannot hand out what she lacks.
                try await roster.admin(.post, "/admin-keys", bearer: ada.access, body: #"{"name":"x","scopes":["admin-users"]}"#)
                    .expectAdminError(.forbidden)
                // Demote Ada to viewer: her key loses 'tenants' at once.
                let grants = try await roster.admin(.get, "/admin/roles/admin/grants")
                let grant = try #require(grants.json["data"]?.arrayValue?.first { $0["user_id"] == .string(user) }?["id"]?.stringValue)
                #expect(try await roster.admin(.delete, "/admin/grants/\(grant)").status == .noContent)
                try await roster.admin(.get, "/tenants", key: key).expectAdminError(.forbidden)
                // Disabled: her key stops.
                _ = try await roster.admin(.patch, "/admin/users/\(user)", body: #"{"disabled":true}"#)
                try await roster.admin(.get, "/tenants", key: key).expectAdminError(.unauthorized)
            }
        }

        @Test("tampered or foreign access tokens are 401 with a clear error")
        func tampering() async throws {
            try await Roster.run { roster in
                _ = try await roster.createAdminUser("ada@example.com", roles: ["admin"])
                let access = try await roster.signIn("ada@example.com").access
                var bytes = Array(access.utf8)
                bytes[bytes.count - 5] = bytes[bytes.count - 5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
                let flipped = String(decoding: bytes, as: UTF8.self)
                let reply = try await roster.admin(.get, "/tenants", bearer: flipped)
                reply.expectAdminError(.unauthorized)
                #expect(reply.json["error"]?["message"]?.stringValue?.contains("signature") == true, "\(reply.body)")
                let parts = access.split(separator: ".")
                let none = Data(#"{"alg":"none","typ":"at+jwt"}"#.utf8).base64EncodedString()
                    .replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                try await roster.admin(.get, "/tenants", bearer: "\(none).\(parts[1]).").expectAdminError(.unauthorized)
                try await roster.admin(.get, "/tenants", bearer: "eyJhbGciOiJub25lIn0.e30.").expectAdminError(.unauthorized)
            }
        }

        @Test("roles granted to a SCIM group reach members of nested groups, and go with a membership PATCH")
        func directoryRoles() async throws {
            try await Roster.run { roster in
                _ = try await roster.createAdminUser("ada@example.com")
                let ada = try await roster.createUser("ada@example.com")
                let engineers = try await roster.createGroup("Engineers", members: [ada])
                _ = try await roster.createGroup("Roster Admins", members: [engineers])
                let grant = try await roster.admin(
                    .post, "/admin/roles/admin/grants", body: #"{"group":{"tenant":"default","group":"Roster Admins"},"tenant":"default"}"#)
                #expect(grant.status == .created, "\(grant.body)")
                let session = try await roster.signIn("ada@example.com")
                #expect(try await roster.admin(.get, "/tenants", bearer: session.access).status == .ok)
                try await roster.patch("/Groups/\(engineers)", #"[{"op":"remove","path":"members[value eq \"\#(ada)\"]"}]"#)
                try await roster.admin(.get, "/tenants", bearer: session.access).expectAdminError(.forbidden)
                try await roster.patch("/Groups/\(engineers)", #"[{"op":"add","path":"members","value":[{"value":"\#(ada)"}]}]"#)
                #expect(try await roster.admin(.get, "/tenants", bearer: session.access).status == .ok)
            }
        }

        @Test("an active group narrows a session to that group's roles; a group the user is not in is 403")
        func activeGroup() async throws {
            try await Roster.run { roster in
                _ = try await roster.createAdminUser("ada@example.com", roles: ["owner"])
                let ada = try await roster.createUser("ada@example.com")
                let auditors = try await roster.createGroup("Auditors", members: [ada])
                _ = try await roster.createGroup("Others")
                _ = try await roster.admin(
                    .post, "/admin/roles/auditor/grants", body: #"{"group":{"tenant":"default","group":"\#(auditors)"},"tenant":"default"}"#)
                let session = try await roster.signIn("ada@example.com")
                #expect(try await roster.admin(.get, "/admin/users", bearer: session.access).status == .ok)
                let asAuditor: HTTPFields = [.init("X-Roster-Active-Group")!: "Auditors"]
                try await roster.admin(.get, "/admin/users", bearer: session.access, headers: asAuditor).expectAdminError(.forbidden)
                #expect(try await roster.admin(.get, "/audit", bearer: session.access, headers: asAuditor).status == .ok)
                let byID: HTTPFields = [.init("X-Roster-Active-Group")!: auditors]
                #expect(try await roster.admin(.get, "/audit", bearer: session.access, headers: byID).status == .ok)
                let other: HTTPFields = [.init("X-Roster-Active-Group")!: "Others"]
                let refused = try await roster.admin(.get, "/audit", bearer: session.access, headers: other)
                refused.expectAdminError(.forbidden)
                #expect(refused.json["error"]?["message"]?.stringValue?.contains("not a member") == true)
                // A service key has no memberships to choose from.
                try await roster.send(.get, "/api/v1/tenants", headers: [.init("X-Admin-API-Key")!: roster.adminKey, .init("X-Roster-Active-Group")!: "Auditors"])
                    .expectAdminError(.badRequest)
            }
        }

        @Test("the JWKS is public and holds the key that verifies access tokens")
        func jwks() async throws {
            try await Roster.run { roster in
                _ = try await roster.createAdminUser("ada@example.com", roles: ["viewer"])
                let access = try await roster.signIn("ada@example.com").access
                let reply = try await roster.send(.get, "/api/v1/auth/jwks.json")
                #expect(reply.status == .ok)
                let keys = reply.json["keys"]?.arrayValue ?? []
                let header = try #require(Data(base64URLEncoded: String(access.split(separator: ".")[0])))
                let kid = try JSONValue.parse(Array(header))["kid"]
                #expect(keys.contains { $0["kid"] == kid })
                #expect(keys.allSatisfy { $0["d"] == nil })
            }
        }
    }
}

extension Data {
    init?(base64URLEncoded text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        self.init(base64Encoded: base64)
    }
}
