import Foundation
import Hummingbird
import PostgresNIO
import RosterAuth
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Setup links: one tenant's SCIM tokens and provisioning log for someone without an account, and nothing else")
    struct SetupLinkTests {
        /// Creates a link on `tenant` with the global key (or `key`); returns the created answer.
        static func createLink(_ roster: Roster, tenant: String = "default", body: String = #"{"name":"Acme IT"}"#, key: String? = nil)
            async throws -> Reply
        {
            try await roster.admin(.post, "/tenants/\(tenant)/setup-links", key: key, body: body)
        }

        static func secret(_ reply: Reply) throws -> String {
            try #require(reply.json["secret"]?.stringValue)
        }

        @Test("A link's holder reads the setup facts, creates a working SCIM token, and the link records both; revoking stops it")
        func lifecycle() async throws {
            try await Roster.run { roster in
                let created = try await Self.createLink(roster, body: #"{"name":"Acme IT (Entra)","expires_in_hours":2,"tokens_allowed":3}"#)
                #expect(created.status == .created, "\(created.body)")
                let secret = try Self.secret(created)
                #expect(secret.hasPrefix("rset_"))
                #expect(created.json["url"] == .string(Roster.publicURL + "/setup#" + secret))
                #expect(created.json["tokens_allowed"] == 3 && created.json["tokens_created"] == 0)
                #expect(created.json["created_by"]?["type"] == "admin_key")
                let linkID = try #require(created.json["id"]?.stringValue)

                let info = try await roster.admin(.get, "/setup", bearer: secret)
                #expect(info.status == .ok, "\(info.body)")
                #expect(info.json["tenant"]?["name"] == "default")
                #expect(info.json["scim_base_url"] == .string(Roster.scimBase))
                #expect(info.json["link"]?["name"] == "Acme IT (Entra)")

                let token = try await roster.admin(.post, "/setup/scim-tokens", bearer: secret, body: #"{"name":"Microsoft Entra ID"}"#)
                #expect(token.status == .created, "\(token.body)")
                let scimToken = try #require(token.json["token"]?.stringValue)
                #expect(token.json["scim_base_url"] == .string(Roster.scimBase))
                #expect(try await roster.scim(.get, "/Users", token: scimToken).status == .ok)

                let tokens = try await roster.admin(.get, "/tenants/default/scim/tokens")
                let made = tokens.json["data"]?.arrayValue?.first { $0["name"] == "Microsoft Entra ID" }
                #expect(made?["setup_link_id"] == .string(linkID))
                let links = try await roster.admin(.get, "/tenants/default/setup-links")
                #expect(links.json["data"]?.arrayValue?.first?["tokens_created"] == 1)
                #expect(!links.body.contains(secret) && !links.body.contains(String(secret.dropFirst(5))))

                let audit = try await AuditLogTests.adminEntries(roster)
                let created_ = audit.first { $0["action"] == "setup_link.created" }
                #expect(created_?["target"]?["id"] == .string(linkID))
                let byLink = audit.first { $0["action"] == "scim_token.created" && $0["actor"]?["type"] == "setup_link" }
                #expect(byLink?["actor"]?["id"] == .string(linkID))
                #expect(!(try await roster.admin(.get, "/audit?limit=1000").body.contains(secret)))

                #expect(try await roster.admin(.delete, "/tenants/default/setup-links/\(linkID)").status == .noContent)
                try await roster.admin(.get, "/setup", bearer: secret).expectAdminError(.unauthorized)
                // The token it made is the identity provider's connection: it stays.
                #expect(try await roster.scim(.get, "/Users", token: scimToken).status == .ok)
                #expect(try await AuditLogTests.adminEntries(roster).contains { $0["action"] == "setup_link.revoked" })
                try await roster.admin(.delete, "/tenants/default/setup-links/\(UUID())").expectAdminError(.notFound)
                try await roster.admin(.delete, "/tenants/default/setup-links/not-an-id").expectAdminError(.notFound)
            }
        }

        @Test("A setup secret works on the setup routes only; no other credential works on them")
        func credentialSeparation() async throws {
            try await Roster.run { roster in
                let secret = try Self.secret(try await Self.createLink(roster))
                // The setup secret anywhere else: every admin route class, and SCIM.
                for (method, path) in [
                    (HTTPRequest.Method.get, "/tenants"), (.get, "/auth/me"), (.get, "/tenants/default/provisioning-log"),
                    (.get, "/tenants/default/setup-links"), (.get, "/audit"), (.get, "/config"), (.get, "/admin-keys"),
                ] {
                    let reply = try await roster.admin(method, path, bearer: secret)
                    reply.expectAdminError(.unauthorized)
                    #expect(reply.body.contains("setup"), "\(path): \(reply.body)")
                }
                let created = try await roster.admin(.post, "/tenants/default/scim/tokens", bearer: secret, body: #"{"name":"x"}"#)
                created.expectAdminError(.unauthorized)
                try await roster.admin(.post, "/tenants/default/setup-links", key: secret, body: #"{"name":"x"}"#).expectAdminError(.unauthorized)
                try await roster.scim(.get, "/Users", token: secret).expectScimError(.unauthorized)

                // Other credentials on the setup routes: the admin key (header or bearer), the bootstrap key, a SCIM token, a session.
                try await roster.createAdminUser("ada@example.com", roles: ["owner"])
                let session = try await roster.signIn("ada@example.com")
                for credential in [roster.adminKey, roster.bootstrapKey, roster.scimToken, session.access, session.refresh, "rset_" + String(repeating: "x", count: 43)] {
                    try await roster.admin(.get, "/setup", bearer: credential).expectAdminError(.unauthorized)
                    try await roster.admin(.post, "/setup/scim-tokens", bearer: credential, body: #"{"name":"x"}"#).expectAdminError(.unauthorized)
                    try await roster.admin(.get, "/setup/provisioning-log", bearer: credential).expectAdminError(.unauthorized)
                }
                try await roster.admin(.get, "/setup", key: roster.adminKey).expectAdminError(.unauthorized)
                try await roster.send(.get, "/api/v1/setup").expectAdminError(.unauthorized)
            }
        }

        @Test("An expired link is refused, and a link never exceeds its allowance, however many ask at once")
        func expiryAndAllowance() async throws {
            try await Roster.run { roster in
                let created = try await Self.createLink(roster, body: #"{"name":"race","tokens_allowed":2}"#)
                let secret = try Self.secret(created)
                let outcomes = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for index in 0..<8 {
                        group.addTask {
                            try await roster.admin(.post, "/setup/scim-tokens", bearer: secret, body: #"{"name":"t\#(index)"}"#).status
                        }
                    }
                    return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
                }
                #expect(outcomes.filter { $0 == .created }.count == 2, "\(outcomes)")
                #expect(outcomes.filter { $0 == .conflict }.count == 6, "\(outcomes)")
                let tokens = try await roster.admin(.get, "/tenants/default/scim/tokens").json["data"]?.arrayValue ?? []
                #expect(tokens.filter { $0["setup_link_id"] != nil }.count == 2)

                let expiring = try Self.secret(try await Self.createLink(roster, body: #"{"name":"old"}"#))
                try await withDatabase(url: roster.databaseURL, logger: TestPostgres.require().logger) { db in
                    _ = try await db.query("UPDATE setup_links SET expires = now() - interval '1 second' WHERE name = 'old'")
                }
                try await roster.admin(.get, "/setup", bearer: expiring).expectAdminError(.unauthorized)
                try await roster.admin(.post, "/setup/scim-tokens", bearer: expiring, body: #"{"name":"late"}"#).expectAdminError(.unauthorized)
            }
        }

        @Test("A link gives no more than its maker holds, and none for a tenant whose groups hold admin roles")
        func noEscalation() async throws {
            try await Roster.run { roster in
                _ = try await roster.otherTenant("acme")
                func key(_ scopes: String, tenant: String) async throws -> String {
                    let reply = try await roster.admin(.post, "/admin-keys", body: #"{"name":"k","scopes":\#(scopes),"tenant":"\#(tenant)"}"#)
                    return try #require(reply.json["key"]?.stringValue, "\(reply.body)")
                }
                // Tokens but not the provisioning log: refused. Both, on acme: acme only.
                let tokensOnly = try await key(#"["scim-tokens"]"#, tenant: "acme")
                try await Self.createLink(roster, tenant: "acme", key: tokensOnly).expectAdminError(.forbidden)
                let logOnly = try await key(#"["provisioning:read"]"#, tenant: "acme")
                try await Self.createLink(roster, tenant: "acme", key: logOnly).expectAdminError(.forbidden)
                let both = try await key(#"["scim-tokens","provisioning:read"]"#, tenant: "acme")
                #expect(try await Self.createLink(roster, tenant: "acme", key: both).status == .created)
                try await Self.createLink(roster, tenant: "default", key: both).expectAdminError(.notFound)
                try await roster.admin(.get, "/tenants/default/setup-links", key: both).expectAdminError(.notFound)

                // A link of acme reads acme's log, never default's.
                let acmeLink = try Self.secret(try await Self.createLink(roster, tenant: "acme"))
                #expect(try await roster.scim(.get, "/Groups").status == .ok)
                try await Task.sleep(for: .milliseconds(1500))
                let acmeLog = try await roster.admin(.get, "/setup/provisioning-log", bearer: acmeLink)
                #expect(acmeLog.status == .ok)
                #expect(acmeLog.json["data"]?.arrayValue?.isEmpty == true, "\(acmeLog.body)")
                let info = try await roster.admin(.get, "/setup", bearer: acmeLink)
                #expect(info.json["tenant"]?["name"] == "acme")

                // Groups of default that hold a role: no new link, and a link made before refuses to mint a token.
                let before = try Self.secret(try await Self.createLink(roster))
                _ = try await roster.createGroup("Roster Admins")
                let grant = try await roster.admin(
                    .post, "/admin/roles/viewer/grants", body: #"{"group":{"tenant":"default","group":"Roster Admins"},"tenant":"default"}"#)
                #expect(grant.status == .created, "\(grant.body)")
                try await Self.createLink(roster).expectAdminError(.forbidden)
                try await roster.admin(.post, "/setup/scim-tokens", bearer: before, body: #"{"name":"x"}"#).expectAdminError(.forbidden)
            }
        }

        @Test("Bad link requests are 400s naming the field", arguments: [
            #"{"name":""}"#, #"{"name":"  "}"#, #"{"name":"x","expires_in_hours":0}"#, #"{"name":"x","expires_in_hours":721}"#,
            #"{"name":"x","tokens_allowed":0}"#, #"{"name":"x","tokens_allowed":21}"#, #"{"expires_in_hours":3}"#, #"{"name":7}"#, #"[]"#,
        ])
        func badInput(body: String) async throws {
            try await Roster.run { roster in
                try await Self.createLink(roster, body: body).expectAdminError(.badRequest)
                #expect(try await roster.admin(.get, "/tenants/default/setup-links").json["data"]?.arrayValue?.isEmpty == true)
            }
        }

        @Test("Setup-link lists page by cursor, oldest first; a foreign or tampered cursor is a 400")
        func paging() async throws {
            try await Roster.run { roster in
                for index in 0..<5 { #expect(try await Self.createLink(roster, body: #"{"name":"l\#(index)"}"#).status == .created) }
                var names: [String] = []
                var cursor: String?
                repeat {
                    let reply = try await roster.admin(.get, "/tenants/default/setup-links?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
                    #expect(reply.status == .ok)
                    names += reply.json["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
                    cursor = reply.json["next_cursor"]?.stringValue
                } while cursor != nil && names.count < 20
                #expect(names == ["l0", "l1", "l2", "l3", "l4"])
                // A cursor of default's list on acme's: refused, not reinterpreted.
                _ = try await roster.otherTenant("acme")
                let first = try await roster.admin(.get, "/tenants/default/setup-links?limit=1")
                let foreign = try #require(first.json["next_cursor"]?.stringValue)
                try await roster.admin(.get, "/tenants/acme/setup-links?cursor=\(foreign)").expectAdminError(.badRequest)
                for bad in ["cursor=abc", "cursor=\(Base64URL.encode(Data("a1.1.0.x.1".utf8)))", "limit=0", "limit=501"] {
                    try await roster.admin(.get, "/tenants/default/setup-links?\(bad)").expectAdminError(.badRequest)
                }
            }
        }
    }
}
