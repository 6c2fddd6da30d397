import Foundation
import HTTPTypes
import PostgresNIO
import RosterAuth
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension Roster {
    /// Runs SQL on the test's database: for moving a row's clock where no API does (an expiry in the past).
    func sql(_ query: PostgresQuery) async throws {
        try await withDatabase(url: databaseURL, logger: TestPostgres.require().logger) { db in _ = try await db.query(query) }
    }

    /// Creates an admin key with the credential given (an access token, or an admin key); returns its id and secret.
    func createKey(_ body: String, bearer: String? = nil, key: String? = nil) async throws -> (id: String, key: String) {
        let reply = if let bearer { try await admin(.post, "/admin-keys", bearer: bearer, body: body) } else { try await admin(.post, "/admin-keys", key: key, body: body) }
        #expect(reply.status == .created, "\(reply.body)")
        return (try #require(reply.json["id"]?.stringValue), try #require(reply.json["key"]?.stringValue))
    }

    /// Signs in with an admin key; returns the session's access token.
    func keySession(_ key: String) async throws -> String {
        let reply = try await anonymous(.post, "/auth/token", body: #"{"admin_key":"\#(key)"}"#)
        #expect(reply.status == .ok, "\(reply.body)")
        return try #require(reply.json["access_token"]?.stringValue)
    }
}

extension ServerSuite {
    @Suite("Keys belong to whoever made them: a user, a key (directly or through its session), an OIDC subject")
    struct OwnedKeyTests {
        /// How a parent key comes to an end.
        struct Ending: Sendable, CustomTestStringConvertible {
            var testDescription: String
            /// Whether the parent is Ada's (made through her session) rather than a service key.
            var adasKey: Bool
            var end: @Sendable (Roster, _ parent: String, _ ada: String) async throws -> Void
        }

        static let endings: [Ending] = [
            Ending(testDescription: "a service key is revoked", adasKey: false) { roster, parent, _ in
                let revoked = try await roster.admin(.delete, "/admin-keys/\(parent)")
                #expect(revoked.status == .ok)
            },
            Ending(testDescription: "a service key expires", adasKey: false) { roster, parent, _ in
                try await roster.sql("UPDATE admin_keys SET expires = now() - interval '1 second' WHERE id = \(UUID(uuidString: parent)!)")
            },
            Ending(testDescription: "Ada's key is revoked", adasKey: true) { roster, parent, _ in
                let revoked = try await roster.admin(.delete, "/admin-keys/\(parent)")
                #expect(revoked.status == .ok)
            },
            Ending(testDescription: "Ada, who owns the key, is disabled", adasKey: true) { roster, _, ada in
                let disabled = try await roster.admin(.patch, "/admin/users/\(ada)", body: #"{"disabled":true}"#)
                #expect(disabled.status == .ok)
            },
        ]

        @Test("keys made by a key, directly or through its sessions, and theirs in turn, stop when it ends", arguments: endings)
        func childrenEndWithTheirParent(_ ending: Ending) async throws {
            try await Roster.run { roster in
                let ada = try await roster.createAdminUser("ada@example.com", roles: ["owner"])
                let body = #"{"name":"parent","scopes":["tenants","admin-keys"]}"#
                let parent = if ending.adasKey {
                    try await roster.createKey(body, bearer: try await roster.signIn("ada@example.com").access)
                } else {
                    try await roster.createKey(body, key: roster.bootstrapKey)
                }
                let parentSession = try await roster.keySession(parent.key)
                let throughSession = try await roster.createKey(#"{"name":"child","scopes":["tenants","admin-keys"]}"#, bearer: parentSession)
                let direct = try await roster.createKey(#"{"name":"direct","scopes":["tenants"]}"#, key: parent.key)
                let grandchild = try await roster.createKey(
                    #"{"name":"grandchild","scopes":["tenants"]}"#, bearer: try await roster.keySession(throughSession.key))
                let childSession = try await roster.keySession(throughSession.key)

                for (child, owner) in [(throughSession, parent.id), (direct, parent.id), (grandchild, throughSession.id)] {
                    let record = try await roster.admin(.get, "/admin-keys/\(child.id)")
                    #expect(record.json["owner_key_id"] == .string(owner), "\(record.body)")
                    #expect(record.json["owner_id"] == (ending.adasKey ? .string(ada) : nil), "\(record.body)")
                    #expect(try await roster.admin(.get, "/tenants", key: child.key).status == .ok)
                }
                try await ending.end(roster, parent.id, ada)
                for child in [throughSession, direct, grandchild] {
                    try await roster.admin(.get, "/tenants", key: child.key).expectAdminError(.unauthorized)
                    try await roster.anonymous(.post, "/auth/token", body: #"{"admin_key":"\#(child.key)"}"#).expectAdminError(.unauthorized)
                }
                try await roster.admin(.get, "/tenants", bearer: childSession).expectAdminError(.unauthorized)
            }
        }

        @Test("a key made through a key's session never does more than that key can now")
        func childBoundedByParentsCurrentRights() async throws {
            try await Roster.run { roster in
                let ada = try await roster.createAdminUser("ada@example.com", roles: ["admin"])
                let parent = try await roster.createKey(
                    #"{"name":"parent","scopes":["tenants","webhooks","admin-keys"]}"#, bearer: try await roster.signIn("ada@example.com").access)
                let child = try await roster.createKey(#"{"name":"child","scopes":["tenants","webhooks"]}"#, bearer: try await roster.keySession(parent.key))
                #expect(try await roster.admin(.get, "/webhooks", key: child.key).status == .ok)
                // Ada drops to viewer: her key, and the key it made, lose 'webhooks' and 'tenants' at once.
                let grants = try await roster.admin(.get, "/admin/roles/admin/grants")
                let grant = try #require(grants.json["data"]?.arrayValue?.first { $0["user_id"] == .string(ada) }?["id"]?.stringValue)
                #expect(try await roster.admin(.delete, "/admin/grants/\(grant)").status == .noContent)
                _ = try await roster.admin(.post, "/admin/roles/viewer/grants", body: #"{"user_id":"\#(ada)"}"#)
                for path in ["/webhooks", "/tenants"] {
                    try await roster.admin(.get, path, key: child.key).expectAdminError(.forbidden)
                }
            }
        }
    }
}
