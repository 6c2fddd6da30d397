import Foundation
import Hummingbird
import RosterAuth
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Admin API: rate-limit overrides per tenant, SCIM token and admin key")
    struct RateLimitAdminTests {
        @Test("a tenant's limit, then a token's own, apply to the next request without a restart; removing them falls back in turn")
        func scimOverrides() async throws {
            try await Roster.run(scim: policy("100/60s"), admin: nil) { roster in
                let token = try await roster.scimTokenID()
                #expect(try await roster.admin(.get, "/scim/tokens/\(token)/rate-limit").json == ["source": "default", "requests": 100, "window_seconds": 60])

                let tenant = try await roster.admin(.put, "/tenants/default/rate-limit", body: #"{"scim":{"requests":3,"window_seconds":30}}"#)
                #expect(tenant.status == .ok, "\(tenant.body)")
                #expect(tenant.json["scim"] == ["source": "tenant", "requests": 3, "window_seconds": 30])
                #expect(tenant.json["admin"] == ["source": "default"])
                #expect(try await roster.scim(.get, "/Users").headers[.rateLimitPolicy] == #""scim";q=3;w=30"#)
                #expect(try await roster.admin(.get, "/scim/tokens/\(token)/rate-limit").json["source"] == "tenant")

                let own = try await roster.admin(.put, "/scim/tokens/\(token)/rate-limit", body: #"{"requests":1,"window_seconds":600}"#)
                #expect(own.json == ["source": "scim_token", "requests": 1, "window_seconds": 600], "\(own.body)")
                // The request spent under the tenant's limit may still weigh: of the next two, at most one passes.
                var statuses: [HTTPResponse.Status] = []
                for _ in 0..<2 {
                    let reply = try await roster.scim(.get, "/Users")
                    #expect(reply.headers[.rateLimitPolicy] == #""scim";q=1;w=600"#)
                    statuses.append(reply.status)
                }
                #expect(statuses.contains(.tooManyRequests) && statuses.filter { $0 == .ok }.count <= 1, "\(statuses)")

                let removed = try await roster.admin(.delete, "/tenants/default/scim/tokens/\(token)/rate-limit")
                #expect(removed.json == ["source": "tenant", "requests": 3, "window_seconds": 30])
                #expect(try await roster.scim(.get, "/Users").headers[.rateLimitPolicy] == #""scim";q=3;w=30"#)
                let cleared = try await roster.admin(.delete, "/tenants/default/rate-limit")
                #expect(cleared.json["scim"] == ["source": "default", "requests": 100, "window_seconds": 60])
                #expect(try await roster.scim(.get, "/Users").headers[.rateLimitPolicy] == #""scim";q=100;w=60"#)
            }
        }

        @Test("an admin key's own limit beats its tenant's; a tenant's admin limit reaches only its bound keys")
        func adminOverrides() async throws {
            try await Roster.run(scim: nil, admin: policy("50/60s")) { roster in
                _ = try await roster.otherTenant("acme")
                let created = try await roster.admin(.post, "/admin-keys", body: #"{"name":"acme-ci","scopes":["tenants"],"tenant":"acme"}"#)
                let (key, id) = (try #require(created.json["key"]?.stringValue), try #require(created.json["id"]?.stringValue))

                #expect(try await roster.admin(.put, "/tenants/acme/rate-limit", body: #"{"admin":{"requests":5,"window_seconds":50}}"#).status == .ok)
                #expect(try await roster.admin(.get, "/tenants", key: key).headers[.rateLimitPolicy] == #""admin";q=5;w=50"#)
                #expect(try await roster.admin(.get, "/tenants").headers[.rateLimitPolicy] == #""admin";q=50;w=60"#, "a global key has no tenant")
                #expect(try await roster.admin(.get, "/admin-keys/\(id)/rate-limit").json == ["source": "tenant", "requests": 5, "window_seconds": 50])

                let own = try await roster.admin(.put, "/admin-keys/\(id)/rate-limit", body: #"{"requests":2,"window_seconds":600}"#)
                #expect(own.json == ["source": "admin_key", "requests": 2, "window_seconds": 600], "\(own.body)")
                // What the key spent under its tenant's limit still weighs a little, so: at most 2 more pass, then 429.
                var statuses: [HTTPResponse.Status] = []
                for _ in 0..<3 {
                    let reply = try await roster.admin(.get, "/tenants", key: key)
                    #expect(reply.headers[.rateLimitPolicy] == #""admin";q=2;w=600"#)
                    statuses.append(reply.status)
                }
                #expect(statuses.last == .tooManyRequests && statuses.filter { $0 == .ok }.count <= 2, "\(statuses)")
                #expect(try await roster.admin(.delete, "/admin-keys/\(id)/rate-limit").json["source"] == "tenant")
            }
        }

        @Test("bad limits are 400 naming the fields; unknown, and other tenants', tokens and keys are 404; the config scope is required")
        func invalidInput() async throws {
            try await Roster.run(scim: policy("100/60s"), admin: nil) { roster in
                let token = try await roster.scimTokenID()
                for body in [#"{"requests":0,"window_seconds":60}"#, #"{"requests":1,"window_seconds":0}"#, #"{"requests":1,"window_seconds":86401}"#,
                             #"{"requests":1000001,"window_seconds":60}"#, #"{"requests":10}"#, #"{"requests":10,"window_seconds":60,"burst":5}"#, "[]"] {
                    let reply = try await roster.admin(.put, "/scim/tokens/\(token)/rate-limit", body: body)
                    reply.expectAdminError(.badRequest)
                    #expect(reply.json["error"]?["code"] == "invalid_request", "\(body): \(reply.body)")
                }
                let range = try await roster.admin(.put, "/scim/tokens/\(token)/rate-limit", body: #"{"requests":0,"window_seconds":60}"#)
                #expect(range.json["error"]?["message"]?.stringValue?.contains("'requests' must be 1…1000000") == true, "\(range.body)")
                try await roster.admin(.put, "/tenants/default/rate-limit", body: "{}").expectAdminError(.badRequest)
                let nested = try await roster.admin(.put, "/tenants/default/rate-limit", body: #"{"admin":{"requests":1,"window_seconds":0}}"#)
                #expect(nested.json["error"]?["message"]?.stringValue?.contains("'admin.window_seconds'") == true, "\(nested.body)")

                try await roster.admin(.get, "/scim/tokens/\(UUID().uuidString)/rate-limit").expectAdminError(.notFound)
                try await roster.admin(.put, "/admin-keys/\(UUID().uuidString)/rate-limit", body: #"{"requests":1,"window_seconds":1}"#)
                    .expectAdminError(.notFound)
                try await roster.admin(.get, "/tenants/nope/rate-limit").expectAdminError(.notFound)

                // A key bound to acme: the default tenant's token and a global key are not there for it.
                _ = try await roster.otherTenant("acme")
                let bound = try #require(try await roster.admin(
                    .post, "/admin-keys", body: #"{"name":"acme-config","scopes":["config"],"tenant":"acme"}"#).json["key"]?.stringValue)
                let harnessKey = try await AuditLogTests.harnessKeyID(roster)
                try await roster.admin(.get, "/scim/tokens/\(token)/rate-limit", key: bound).expectAdminError(.notFound)
                try await roster.admin(.put, "/admin-keys/\(harnessKey)/rate-limit", key: bound, body: #"{"requests":1,"window_seconds":1}"#)
                    .expectAdminError(.notFound)
                try await roster.admin(.get, "/tenants/default/rate-limit", key: bound).expectAdminError(.notFound)
                #expect(try await roster.admin(.get, "/tenants/acme/rate-limit", key: bound).status == .ok)

                let unscoped = try #require(try await roster.admin(
                    .post, "/admin-keys", body: #"{"name":"no-config","scopes":["tenants","scim-tokens"]}"#).json["key"]?.stringValue)
                try await roster.admin(.get, "/tenants/default/rate-limit", key: unscoped).expectAdminError(.forbidden)
                try await roster.admin(.put, "/scim/tokens/\(token)/rate-limit", key: unscoped, body: #"{"requests":1,"window_seconds":1}"#)
                    .expectAdminError(.forbidden)
                #expect(try await roster.admin(.get, "/scim/tokens/\(token)/rate-limit").json["source"] == "default", "nothing refused took effect")
            }
        }

        @Test("every change is an audit entry with its actor, target, tenant and limits; removing nothing, or a refused change, records nothing")
        func audited() async throws {
            try await Roster.run(scim: nil, admin: nil) { roster in
                let acme = try await roster.otherTenant("acme")
                let token = try await roster.scimTokenID()
                let keyID = try await AuditLogTests.harnessKeyID(roster)
                let before = try await AuditLogTests.adminEntries(roster).count
                let changes: [(HTTPRequest.Method, String, String?)] = [
                    (.put, "/tenants/acme/rate-limit", #"{"scim":{"requests":6000,"window_seconds":60},"admin":{"requests":10,"window_seconds":1}}"#),
                    (.delete, "/tenants/acme/rate-limit", nil),
                    (.delete, "/tenants/acme/rate-limit", nil),
                    (.put, "/scim/tokens/\(token)/rate-limit", #"{"requests":50,"window_seconds":5}"#),
                    (.put, "/scim/tokens/\(token)/rate-limit", #"{"requests":0,"window_seconds":5}"#),
                    (.delete, "/scim/tokens/\(token)/rate-limit", nil),
                    (.put, "/admin-keys/\(keyID)/rate-limit", #"{"requests":9,"window_seconds":3}"#),
                    (.delete, "/admin-keys/\(keyID)/rate-limit", nil),
                    (.delete, "/admin-keys/\(keyID)/rate-limit", nil),
                ]
                for (method, path, body) in changes { _ = try await roster.admin(method, path, body: body) }

                let recorded = Array(try await AuditLogTests.adminEntries(roster).dropFirst(before))
                #expect(recorded.map { $0["action"] } == [
                    "tenant.rate_limit_set", "tenant.rate_limit_removed", "scim_token.rate_limit_set", "scim_token.rate_limit_removed",
                    "admin_key.rate_limit_set", "admin_key.rate_limit_removed",
                ])
                #expect(recorded.map { $0["target"]?["id"]?.stringValue } == [acme.id, acme.id, token, token, keyID, keyID])
                #expect(recorded.map { $0["target"]?["type"]?.stringValue } == ["tenant", "tenant", "scim_token", "scim_token", "admin_key", "admin_key"])
                #expect(recorded.allSatisfy { $0["actor"] == ["type": "admin_key", "id": .string(keyID)] })
                #expect(recorded.allSatisfy { $0["request_id"]?.stringValue?.isEmpty == false })
                #expect(recorded[0]["tenant_id"] == .string(acme.id))
                #expect(recorded[0]["details"] == [
                    "name": "acme", "scim": ["requests": 6000, "window_seconds": 60], "admin": ["requests": 10, "window_seconds": 1],
                ])
                #expect(recorded[1]["details"]?["scim"] == ["requests": 6000, "window_seconds": 60])
                #expect(recorded[2]["details"] == ["name": "test", "requests": 50, "window_seconds": 5])
                #expect(recorded[3]["details"] == ["name": "test", "requests": 50, "window_seconds": 5])
                #expect(recorded[4]["details"] == ["name": "test", "requests": 9, "window_seconds": 3])
                #expect(recorded[4]["tenant_id"] == nil, "a global key's entry is global")
                let filtered = try await roster.admin(.get, "/audit?action=scim_token.rate_limit_set,admin_key.rate_limit_removed")
                #expect(filtered.json["data"]?.arrayValue?.count == 2, "\(filtered.body)")
            }
        }
    }
}
