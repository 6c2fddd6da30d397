import Foundation
import HTTPTypes
import RosterAuth
import RosterServer
import RosterStore
import SCIM
import Testing

extension ServerSuite {
    /// What an outsider or a narrow credential can read, and what a cache may keep.
    @Suite("Exposure: public health, secret-bearing answers")
    struct ExposureTests {
        @Test("public health says only overall and component status: no subscription, figure or error text")
        func publicHealth() async throws {
            try await Roster.run { roster in
                let acme = try await roster.otherTenant("acme")
                let hooks = [
                    try await WebhookAdminTests.create(roster).json["id"]?.stringValue,
                    try await WebhookAdminTests.create(roster, path: "/tenants/acme/webhooks").json["id"]?.stringValue,
                ].compactMap { $0 }
                #expect(hooks.count == 2)
                let health = try await roster.send(.get, "/api/health")
                #expect(health.status == .ok)
                let components = try #require(health.json["components"]?.objectValue)
                #expect(Set(components.keys) == ["database", "migrations", "webhooks"])
                for (name, component) in components {
                    #expect(component.objectValue?.keys.sorted() == ["status"], "\(name): \(component)")
                }
                for secretless in hooks + [acme.id, "latency", "lag", "subscriptions"] {
                    #expect(!health.body.contains(secretless), "\(secretless) in \(health.body)")
                }
            }
        }

        @Test("each subscription's lag is behind the webhooks scope, on the credential's own tenants only")
        func webhookHealth() async throws {
            try await Roster.run { roster in
                _ = try await roster.otherTenant("acme")
                let mine = try #require(try await WebhookAdminTests.create(roster, path: "/tenants/acme/webhooks").json["id"]?.stringValue)
                let theirs = try #require(try await WebhookAdminTests.create(roster).json["id"]?.stringValue)
                let acmeKey = try await WebhookAdminTests.key(roster, tenant: "acme", scopes: [.webhooks])
                let feedKey = try await WebhookAdminTests.key(roster, tenant: nil, scopes: [.feedRead])
                let cases: [(String, String?, HTTPResponse.Status, Set<String>)] = [
                    ("anonymous", nil, .unauthorized, []),
                    ("without webhooks", feedKey, .forbidden, []),
                    ("webhooks on acme", acmeKey, .ok, [mine]),
                    ("global", roster.adminKey, .ok, [mine, theirs]),
                ]
                for (name, key, status, expected) in cases {
                    let headers: HTTPFields = key.map { [.init("X-Admin-API-Key")!: $0] } ?? [:]
                    let reply = try await roster.send(.get, "/api/v1/health/webhooks", headers: headers)
                    #expect(reply.status == status, "\(name): \(reply.body)")
                    guard status == .ok else { continue }
                    let listed = Set(reply.json["subscriptions"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? [])
                    #expect(listed == expected, "\(name): \(reply.body)")
                    #expect(reply.json["status"] == "ok" && reply.json["dispatcher"] == "running", "\(reply.body)")
                }
            }
        }

        @Test("every answer that carries a secret, and every other admin answer, is Cache-Control: no-store")
        func noStore() async throws {
            try await Roster.run { roster in
                _ = try await roster.otherTenant("acme")
                _ = try await roster.createAdminUser("ada@example.com", roles: ["owner"])
                let hook = try #require(try await WebhookAdminTests.create(roster).json["id"]?.stringValue)
                let signIn = try await roster.anonymous(
                    .post, "/auth/token", body: #"{"email":"ada@example.com","password":"\#(Roster.password)"}"#)
                let refresh = try #require(signIn.json["refresh_token"]?.stringValue)
                let replies: [(String, Reply)] = [
                    ("SCIM token", try await roster.admin(.post, "/scim/tokens", body: #"{"name":"a"}"#)),
                    ("tenant's SCIM token", try await roster.admin(.post, "/tenants/acme/scim/tokens", body: #"{"name":"a"}"#)),
                    ("admin key", try await roster.admin(.post, "/admin-keys", body: #"{"name":"a","scopes":["feed:read"]}"#)),
                    ("webhook", try await roster.admin(.post, "/webhooks", body: #"{"url":"\#(WebhookAdminTests.receiver)"}"#)),
                    ("rotated secret", try await roster.admin(.post, "/webhooks/\(hook)/rotate-secret")),
                    ("sign-in", signIn),
                    ("refresh", try await roster.anonymous(.post, "/auth/refresh", body: #"{"refresh_token":"\#(refresh)"}"#)),
                    ("a listing", try await roster.admin(.get, "/tenants")),
                    ("the settings", try await roster.admin(.get, "/config")),
                ]
                for (name, reply) in replies {
                    #expect(reply.status.kind == .successful, "\(name): \(reply.body)")
                    #expect(reply.headers[.cacheControl] == "no-store", "\(name): \(reply.headers)")
                }
            }
        }
    }
}
