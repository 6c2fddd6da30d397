import Foundation
import HTTPTypes
import PostgresNIO
import RosterAuth
import RosterServer
import RosterStore
import SCIM
import Testing

extension ServerSuite {
    /// Rights that come from a directory stay inside that directory's tenant (docs/operators/security.md).
    @Suite("Directory roles stay in their tenant")
    struct DirectoryTrustTests {
        static func key(_ roster: Roster, tenant: String?, scopes: [AdminScope]) async throws -> String {
            try await WebhookAdminTests.key(roster, tenant: tenant, scopes: scopes)
        }

        @Test("a role granted to a SCIM group holds on the group's own tenant only: every other target is a 400 that says why")
        func groupGrantTargets() async throws {
            try await Roster.run { roster in
                let acme = try await roster.otherTenant("acme")
                let acmeGroup = try #require(try await roster.scim(
                    .post, "/Groups", token: acme.token,
                    body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Acme Admins"}"#).json["id"]?.stringValue)
                _ = try await roster.createGroup("Default Admins")
                // (group's tenant, group, grant's tenant or nil for every tenant)
                let refused: [(String, String, String?)] = [
                    ("acme", "Acme Admins", nil), ("acme", "Acme Admins", "default"), ("acme", acmeGroup, "default"),
                    (acme.id, "Acme Admins", nil), ("default", "Default Admins", "acme"), ("default", "Default Admins", nil),
                    ("default", "Default Admins", acme.id),
                ]
                for (tenant, group, on) in refused {
                    for role in ["viewer", "admin", "owner"] {
                        let target = on.map { #","tenant":"\#($0)""# } ?? ""
                        let reply = try await roster.admin(
                            .post, "/admin/roles/\(role)/grants", body: #"{"group":{"tenant":"\#(tenant)","group":"\#(group)"}\#(target)}"#)
                        reply.expectAdminError(.badRequest)
                        #expect(reply.json["error"]?["message"]?.stringValue?.contains("holds on that tenant only") == true, "\(reply.body)")
                    }
                }
                let grants = try await roster.sql { db in try await AdminRoles(database: db).grants() }
                #expect(!grants.contains { if case .group = $0.holder { true } else { false } }, "nothing was written")
                for (tenant, group, on) in [("acme", "Acme Admins", "acme"), ("acme", acmeGroup, acme.id), ("default", "Default Admins", "default")] {
                    let reply = try await roster.admin(
                        .post, "/admin/roles/viewer/grants", body: #"{"group":{"tenant":"\#(tenant)","group":"\#(group)"},"tenant":"\#(on)"}"#)
                    #expect(reply.status == .created || reply.status == .conflict, "\(tenant) \(group) on \(on): \(reply.body)")
                }
            }
        }

        @Test("a tenant-scoped admin who provisions their own email into a group of their tenant gains nothing outside it")
        func provisioningYourselfStaysInYourTenant() async throws {
            try await Roster.run { roster in
                let acme = try await roster.otherTenant("acme")
                let scimOnAcme = "/tenants/acme/scim/tokens"
                _ = try await roster.createGroup("Default Admins")
                // Mallory administers acme only.
                let mallory = try await roster.createAdminUser("mallory@example.com")
                let grant = try await roster.admin(.post, "/admin/roles/admin/grants", body: #"{"user_id":"\#(mallory)","tenant":"acme"}"#)
                #expect(grant.status == .created, "\(grant.body)")
                let session = try await roster.signIn("mallory@example.com").access
                // The owner's attempt to give acme's admin group every tenant is refused, so no such group exists.
                let groupOnAcme = try #require(try await roster.scim(
                    .post, "/Groups", token: acme.token,
                    body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Acme Admins"}"#).json["id"]?.stringValue)
                try await roster.admin(.post, "/admin/roles/owner/grants", body: #"{"group":{"tenant":"acme","group":"Acme Admins"}}"#)
                    .expectAdminError(.badRequest)
                #expect(try await roster.admin(
                    .post, "/admin/roles/admin/grants", body: #"{"group":{"tenant":"acme","group":"Acme Admins"},"tenant":"acme"}"#).status == .created)
                // Mallory mints an acme token (she holds admin's scopes there) and puts herself in the group.
                let minted = try await roster.admin(.post, scimOnAcme, bearer: session, body: #"{"name":"mine"}"#)
                #expect(minted.status == .created, "\(minted.body)")
                let token = try #require(minted.json["token"]?.stringValue)
                let me = try #require(try await roster.scim(
                    .post, "/Users", token: token,
                    body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"mallory@example.com"}"#).json["id"]?.stringValue)
                let patched = try await roster.scim(
                    .patch, "/Groups/\(groupOnAcme)", token: token,
                    body: #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"\#(me)"}]}]}"#)
                #expect(patched.status == .ok || patched.status == .noContent, "\(patched.body)")
                // Still acme only: the default tenant, global routes and the owner's scopes stay out of reach.
                try await roster.admin(.get, "/tenants/default", bearer: session).expectAdminError(.notFound)
                try await roster.admin(.get, "/tenants/default/scim/tokens", bearer: session).expectAdminError(.notFound)
                try await roster.admin(.post, "/tenants", bearer: session, body: #"{"name":"evil"}"#).expectAdminError(.forbidden)
                try await roster.admin(.get, "/admin/users", bearer: session).expectAdminError(.forbidden)
                try await roster.admin(.patch, "/tenants/acme", bearer: session, body: #"{"operator_directory":true}"#).expectAdminError(.forbidden)
                let tenants = try await roster.admin(.get, "/tenants", bearer: session)
                #expect(tenants.json["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["acme"])
            }
        }

        @Test("grants made before the rule that reach beyond their group's tenant confer nothing beyond it")
        func legacyCrossTenantGrant() async throws {
            try await Roster.run { roster in
                let acme = try await roster.otherTenant("acme")
                _ = try await roster.createAdminUser("eve@example.com")
                let eve = try #require(try await roster.scim(
                    .post, "/Users", token: acme.token,
                    body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"eve@example.com"}"#).json["id"]?.stringValue)
                let group = try #require(try await roster.scim(
                    .post, "/Groups", token: acme.token,
                    body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Staff","members":[{"value":"\#(eve)"}]}"#)
                    .json["id"]?.stringValue)
                // As an older Roster let an owner write them: admin on every tenant, and owner on `default`.
                try await roster.sql { db in
                    let acmeID = try #require(UUID(uuidString: acme.id)), groupID = try #require(UUID(uuidString: group))
                    try await db.query(
                        """
                        INSERT INTO admin_role_grants (role_id, tenant_id, group_tenant_id, group_id)
                        SELECT r.id, CASE r.name WHEN 'owner' THEN (SELECT id FROM tenants WHERE name = 'default') END, \(acmeID), \(groupID)
                        FROM admin_roles r WHERE r.name IN ('admin', 'owner')
                        """)
                }
                let session = try await roster.signIn("eve@example.com").access
                try await roster.admin(.get, "/tenants/default", bearer: session).expectAdminError(.forbidden)
                try await roster.admin(.get, "/tenants/acme", bearer: session).expectAdminError(.forbidden)
                // Marked as the operator's directory by an owner, its grants reach beyond it again.
                let marked = try await roster.admin(.patch, "/tenants/acme", body: #"{"operator_directory":true}"#)
                #expect(marked.status == .ok, "\(marked.body)")
                #expect(marked.json["operator_directory"] == true)
                #expect(try await roster.admin(.get, "/tenants/default", bearer: session).status == .ok)
                #expect(try await roster.admin(.get, "/admin/users", bearer: session).status == .forbidden, "owner holds on default only")
                #expect(try await roster.admin(.get, "/tenants/default/scim/tokens", bearer: session).status == .ok)
                #expect(try await roster.admin(.patch, "/tenants/acme", body: #"{"operator_directory":false}"#).status == .ok)
                try await roster.admin(.get, "/tenants/default", bearer: session).expectAdminError(.forbidden)
            }
        }

        @Test("only an owner marks the operator's directory, whose groups may then hold roles on every tenant")
        func operatorDirectory() async throws {
            try await Roster.run { roster in
                _ = try await roster.otherTenant("staff")
                _ = try await roster.createAdminUser("admin@example.com", roles: ["admin"])
                let admin = try await roster.signIn("admin@example.com").access
                let starOnStaff = try await Self.key(roster, tenant: "staff", scopes: [.all])
                let mark = #"{"operator_directory":true}"#
                let byAdmin = try await roster.admin(.patch, "/tenants/staff", bearer: admin, body: mark)
                byAdmin.expectAdminError(.forbidden)
                #expect(byAdmin.json["error"]?["message"]?.stringValue?.contains("'*'") == true, "\(byAdmin.body)")
                try await roster.admin(.patch, "/tenants/staff", key: starOnStaff, body: mark).expectAdminError(.forbidden)
                for bad in ["{}", #"{"operator_directory":null}"#, #"{"operator_directory":"yes"}"#, #"{"operator_directory":true,"name":"x"}"#] {
                    let reply = try await roster.admin(.patch, "/tenants/staff", body: bad)
                    #expect(reply.status == .badRequest, "\(bad): \(reply.body)")
                }
                try await roster.admin(.patch, "/tenants/nope", body: mark).expectAdminError(.notFound)
                #expect(try await roster.admin(.get, "/tenants/staff").json["operator_directory"] == false, "nothing was written")
                let marked = try await roster.admin(.patch, "/tenants/staff", body: mark)
                #expect(marked.status == .ok, "\(marked.body)")
                let audit = try await roster.admin(.get, "/audit?action=tenant.updated")
                #expect(audit.json["data"]?.arrayValue?.last?["details"]?["operator_directory"] == true)
                // The staff group holds admin everywhere; its member reaches the default tenant.
                let staffToken = try #require(try await roster.admin(.post, "/tenants/staff/scim/tokens", body: #"{"name":"idp"}"#)
                    .json["token"]?.stringValue)
                let ada = try #require(try await roster.scim(
                    .post, "/Users", token: staffToken,
                    body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com"}"#).json["id"]?.stringValue)
                _ = try await roster.scim(
                    .post, "/Groups", token: staffToken,
                    body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Staff","members":[{"value":"\#(ada)"}]}"#)
                let grant = try await roster.admin(.post, "/admin/roles/admin/grants", body: #"{"group":{"tenant":"staff","group":"Staff"}}"#)
                #expect(grant.status == .created, "\(grant.body)")
                _ = try await roster.createAdminUser("ada@example.com")
                let ada2 = try await roster.signIn("ada@example.com").access
                #expect(try await roster.admin(.get, "/tenants/default", bearer: ada2).status == .ok)
            }
        }

        @Test("a SCIM token of a tenant needs every scope its groups' roles confer there; the operator's directory's, an owner")
        func mintingNeedsTheDirectoryRoles() async throws {
            try await Roster.run { roster in
                _ = try await roster.otherTenant("acme")
                _ = try await roster.otherTenant("staff")
                let acmeToken = try #require(try await roster.admin(.post, "/tenants/acme/scim/tokens", body: #"{"name":"seed"}"#)
                    .json["token"]?.stringValue)
                _ = try await roster.scim(
                    .post, "/Groups", token: acmeToken, body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Acme Admins"}"#)
                let adminScopes: [AdminScope] = [.tenants, .scimTokens, .adminKeys, .webhooks, .directoryRead, .feedRead, .auditRead, .provisioningRead, .metrics]
                let narrow = try await Self.key(roster, tenant: "acme", scopes: [.scimTokens])
                let asAdmin = try await Self.key(roster, tenant: "acme", scopes: adminScopes)
                let starOnAcme = try await Self.key(roster, tenant: "acme", scopes: [.all])
                let globalNarrow = try await Self.key(roster, tenant: nil, scopes: [.scimTokens, .tenants])
                func mint(_ key: String, _ tenant: String = "acme") async throws -> Reply {
                    try await roster.admin(.post, "/tenants/\(tenant)/scim/tokens", key: key, body: #"{"name":"t"}"#)
                }
                // No group holds anything yet: scim-tokens is enough.
                #expect(try await mint(narrow).status == .created)
                #expect(try await roster.admin(
                    .post, "/admin/roles/admin/grants", body: #"{"group":{"tenant":"acme","group":"Acme Admins"},"tenant":"acme"}"#).status == .created)
                // (credential, expected status, the scope a 403 names)
                let cases: [(String, String, HTTPResponse.Status, String?)] = [
                    ("scim-tokens on acme", narrow, .forbidden, "admin-keys"),
                    ("scim-tokens and tenants globally", globalNarrow, .forbidden, "admin-keys"),
                    ("admin's scopes on acme", asAdmin, .created, nil),
                    ("* on acme", starOnAcme, .created, nil),
                    ("owner", roster.adminKey, .created, nil),
                ]
                for (name, key, status, scope) in cases {
                    let reply = try await mint(key)
                    #expect(reply.status == status, "\(name): \(reply.body)")
                    if let scope { #expect(reply.json["error"]?["message"]?.stringValue?.contains("'\(scope)'") == true, "\(name): \(reply.body)") }
                    #expect((reply.json["token"] != nil) == (status == .created), "\(name): a refused mint shows no token")
                }
                // The untargeted route acts on the key's own tenant and asks the same.
                try await roster.admin(.post, "/scim/tokens", key: narrow, body: #"{"name":"t"}"#).expectAdminError(.forbidden)
                // owner on acme's group: only '*' there mints.
                #expect(try await roster.admin(
                    .post, "/admin/roles/owner/grants", body: #"{"group":{"tenant":"acme","group":"Acme Admins"},"tenant":"acme"}"#).status == .created)
                let refused = try await mint(asAdmin)
                refused.expectAdminError(.forbidden)
                #expect(refused.json["error"]?["message"]?.stringValue?.contains("'*'") == true, "\(refused.body)")
                #expect(try await mint(starOnAcme).status == .created)
                // The operator's directory: a global owner only.
                #expect(try await roster.admin(.patch, "/tenants/staff", body: #"{"operator_directory":true}"#).status == .ok)
                let starOnStaff = try await Self.key(roster, tenant: "staff", scopes: [.all])
                let globalAdmin = try await Self.key(roster, tenant: nil, scopes: adminScopes)
                for key in [starOnStaff, globalAdmin] {
                    let reply = try await mint(key, "staff")
                    reply.expectAdminError(.forbidden)
                    #expect(reply.json["error"]?["message"]?.stringValue?.contains("operator's directory") == true, "\(reply.body)")
                }
                #expect(try await mint(roster.adminKey, "staff").status == .created)
                let minted = try await roster.sql { db in try await ScimTokenRepository(database: db).list(tenant: try #require(try await TenantRepository(database: db).find("staff")).id) }
                #expect(minted.count == 2, "the setup token and the owner's only")
            }
        }

        @Test("a tenant-scoped admin-users holder lists only its tenants' role grants")
        func grantListing() async throws {
            try await Roster.run { roster in
                _ = try await roster.otherTenant("acme")
                let user = try await roster.createAdminUser("ada@example.com")
                for target in [#""tenant":"acme""#, #""tenant":"default""#, nil] {
                    let body = #"{"user_id":"\#(user)""# + (target.map { "," + $0 } ?? "") + "}"
                    #expect(try await roster.admin(.post, "/admin/roles/viewer/grants", body: body).status == .created)
                }
                _ = try await roster.createGroup("Viewers")
                #expect(try await roster.admin(
                    .post, "/admin/roles/viewer/grants", body: #"{"group":{"tenant":"default","group":"Viewers"},"tenant":"default"}"#).status == .created)
                let acmeID = try #require(try await roster.admin(.get, "/tenants/acme").json["id"]?.stringValue)
                let defaultID = try #require(try await roster.admin(.get, "/tenants/default").json["id"]?.stringValue)
                let cases: [(String?, [String?])] = [
                    ("acme", [acmeID]), ("default", [defaultID, defaultID]), (nil, [acmeID, defaultID, nil, defaultID]),
                ]
                for (tenant, expected) in cases {
                    let key = try await Self.key(roster, tenant: tenant, scopes: [.adminUsers])
                    let list = try await roster.admin(.get, "/admin/roles/viewer/grants", key: key)
                    #expect(list.status == .ok, "\(list.body)")
                    #expect(list.json["data"]?.arrayValue?.map { $0["tenant_id"]?.stringValue } == expected, "\(tenant ?? "global"): \(list.body)")
                }
            }
        }
    }
}
