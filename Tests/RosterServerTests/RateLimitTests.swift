import Foundation
import HTTPTypes
import Hummingbird
import RosterAuth
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension HTTPField.Name {
    static let rateLimitPolicy = HTTPField.Name("RateLimit-Policy")!
    static let rateLimit = HTTPField.Name("RateLimit")!
}

extension Roster {
    /// Runs with the given default limits (nil: off).
    static func run(
        scim: RateLimitPolicy?, admin: RateLimitPolicy?, refresh: Duration = .seconds(2), _ body: @escaping @Sendable (Roster) async throws -> Void
    ) async throws {
        try await run(configure: { configuration in
            configuration.rateLimits.scim = scim
            configuration.rateLimits.admin = admin
            configuration.rateLimits.refreshInterval = refresh
            configuration.webhooksEnabled = false
        }, body)
    }

    /// The id of the harness's SCIM token (named "test").
    func scimTokenID() async throws -> String {
        let tokens = try #require(try await admin(.get, "/scim/tokens").json["data"]?.arrayValue)
        return try #require(tokens.first { $0["name"] == "test" }?["id"]?.stringValue)
    }
}

func policy(_ text: String) -> RateLimitPolicy { RateLimitPolicy(text)! }

extension Reply {
    /// `RateLimit-Policy`'s q and w and `RateLimit`'s r and t, when both fields name policy `name`.
    func rateLimit(_ name: String) -> (q: Int, w: Int, r: Int, t: Int)? {
        guard let policy = headers[.rateLimitPolicy]?.wholeMatch(of: /"(\w+)";q=(\d+);w=(\d+)/),
            let current = headers[.rateLimit]?.wholeMatch(of: /"(\w+)";r=(\d+);t=(\d+)/),
            policy.1 == name, current.1 == name
        else { return nil }
        return (Int(policy.2)!, Int(policy.3)!, Int(current.2)!, Int(current.3)!)
    }
}

extension ServerSuite {
    @Suite("Rate limits: 429 with Retry-After and RateLimit fields, per credential")
    struct RateLimitTests {
        @Test("/scim/v2: each answer carries RateLimit-Policy and RateLimit; over the limit, 429 with Retry-After and a SCIM error")
        func scimOverLimit() async throws {
            // A token every 100 s: a slow test run moves t (seconds), never r.
            try await Roster.run(scim: policy("3/300s"), admin: nil) { roster in
                let first = try await roster.scim(.get, "/Users")
                #expect(first.status == .ok)
                #expect(first.headers[.rateLimitPolicy] == #""scim";q=3;w=300"#)
                #expect(first.headers[.rateLimit] == #""scim";r=2;t=100"#, "a full bucket, one taken: whole again in 100 s")
                #expect(first.headers[.retryAfter] == nil)
                // An error answer of a limited request is limited and labelled too.
                let missing = try await roster.scim(.get, "/Users/\(UUID().uuidString)")
                missing.expectScimError(.notFound)
                let second = try #require(missing.rateLimit("scim"))
                #expect(second.r == 1 && (150...200).contains(second.t), "\(second)")
                let third = try #require(try await roster.scim(.get, "/Users").rateLimit("scim"))
                #expect(third.r == 0 && (250...300).contains(third.t), "\(third)")

                let refused = try await roster.scim(.get, "/Users")
                refused.expectScimError(.tooManyRequests)
                let retryAfter = try #require(refused.headers[.retryAfter].flatMap(Int.init))
                #expect((50...100).contains(retryAfter))
                #expect(refused.headers[.rateLimitPolicy] == #""scim";q=3;w=300"#)
                #expect(refused.headers[.rateLimit] == #""scim";r=0;t=\#(retryAfter)"#, "t is the Retry-After")
                #expect(refused.json["detail"]?.stringValue?.contains("3 requests per 300 s") == true, "\(refused.body)")
            }
        }

        @Test("/api/v1: over the limit, 429 with Retry-After, the RateLimit fields and the admin error body")
        func adminOverLimit() async throws {
            try await Roster.run(scim: nil, admin: policy("2/600s")) { roster in
                let first = try await roster.admin(.get, "/tenants")
                #expect(first.status == .ok)
                #expect(first.headers[.rateLimitPolicy] == #""admin";q=2;w=600"#)
                #expect(first.headers[.rateLimit] == #""admin";r=1;t=300"#)
                let missing = try await roster.admin(.get, "/tenants/nope")
                missing.expectAdminError(.notFound)
                let second = try #require(missing.rateLimit("admin"))
                #expect(second.r == 0 && (540...600).contains(second.t), "\(second)")

                let refused = try await roster.admin(.get, "/tenants")
                refused.expectAdminError(.tooManyRequests)
                #expect(refused.json["error"]?["status"] == 429)
                #expect(refused.json["error"]?["code"] == "rate_limited")
                #expect(refused.headers[.contentType] == "application/json")
                let retryAfter = try #require(refused.headers[.retryAfter].flatMap(Int.init))
                #expect((240...300).contains(retryAfter))
                #expect(refused.headers[.rateLimitPolicy] == #""admin";q=2;w=600"#)
                #expect(refused.headers[.rateLimit] == #""admin";r=0;t=\#(retryAfter)"#)
            }
        }

        @Test("after Retry-After seconds the credential is served again")
        func recovery() async throws {
            // Tiny windows: on a loaded machine a token may come back before the test asks again, so
            // it asks until refused (at most a few times), then waits exactly Retry-After.
            // Windows wide enough that a slow request on a loaded machine does not wait out a token (2/4s did).
            try await Roster.run(scim: policy("2/10s"), admin: policy("1/4s")) { roster in
                func refusal(_ send: () async throws -> Reply) async throws -> Int {
                    for _ in 0..<20 {
                        let reply = try await send()
                        if reply.status == .tooManyRequests { return try #require(reply.headers[.retryAfter].flatMap(Int.init)) }
                        #expect(reply.status == .ok)
                    }
                    Issue.record("never refused")
                    return 0
                }
                let scimWait = try await refusal { try await roster.scim(.get, "/Users") }
                #expect((1...5).contains(scimWait))
                try await Task.sleep(for: .seconds(scimWait))
                #expect(try await roster.scim(.get, "/Users").status == .ok)

                let adminWait = try await refusal { try await roster.admin(.get, "/tenants") }
                #expect((1...4).contains(adminWait))
                try await Task.sleep(for: .seconds(adminWait))
                #expect(try await roster.admin(.get, "/tenants").status == .ok)
            }
        }

        @Test("a rejected write does nothing: the user it would have created does not exist")
        func rejectedWriteDoesNothing() async throws {
            try await Roster.run(scim: policy("1/60s"), admin: nil) { roster in
                _ = try await roster.scim(.get, "/Users")
                let body = #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"refused"}"#
                #expect(try await roster.scim(.post, "/Users", body: body).status == .tooManyRequests)
                let events = try await roster.admin(.get, "/events").json["data"]?.arrayValue
                #expect(events?.isEmpty == true)
            }
        }

        @Test("each SCIM token and each admin key has its own bucket; the two APIs never share one")
        func separateBuckets() async throws {
            try await Roster.run(scim: policy("2/600s"), admin: policy("3/600s")) { roster in
                let other = try #require(try await roster.admin(.post, "/scim/tokens", body: #"{"name":"second"}"#).json["token"]?.stringValue)
                let key = try #require(
                    try await roster.admin(.post, "/admin-keys", body: #"{"name":"second","scopes":["tenants"]}"#).json["key"]?.stringValue)
                for _ in 0..<2 { #expect(try await roster.scim(.get, "/Users").status == .ok) }
                #expect(try await roster.scim(.get, "/Users").status == .tooManyRequests)
                #expect(try await roster.scim(.get, "/Users", token: other).status == .ok)
                // The harness key spent 2 of its 3 creating the token and the key; the new key has all 3.
                #expect(try await roster.admin(.get, "/tenants").status == .ok)
                #expect(try await roster.admin(.get, "/tenants").status == .tooManyRequests)
                let fresh = try await roster.admin(.get, "/tenants", key: key)
                #expect(fresh.status == .ok)
                #expect(fresh.headers[.rateLimit] == #""admin";r=2;t=200"#)
                let bootstrap = try await roster.admin(.get, "/tenants", key: roster.bootstrapKey)
                #expect(bootstrap.headers[.rateLimit] == #""admin";r=2;t=200"#, "the bootstrap key has a bucket of its own")
            }
        }

        @Test("off: no limit and no RateLimit fields, on either API")
        func off() async throws {
            try await Roster.run(scim: nil, admin: nil) { roster in
                for _ in 0..<40 {
                    let scim = try await roster.scim(.get, "/Users")
                    #expect(scim.status == .ok)
                    #expect(scim.headers[.rateLimit] == nil && scim.headers[.rateLimitPolicy] == nil)
                    let admin = try await roster.admin(.get, "/tenants")
                    #expect(admin.status == .ok)
                    #expect(admin.headers[.rateLimit] == nil && admin.headers[.rateLimitPolicy] == nil)
                }
            }
        }

        @Test("discovery, health, the API document, the docs page and /metrics are never limited")
        func unlimitedRoutes() async throws {
            try await Roster.run(scim: policy("1/60s"), admin: policy("1/60s")) { roster in
                let metricsKey: HTTPFields = [.authorization: "Bearer \(roster.adminKey)"]
                for _ in 0..<3 {
                    for path in ["/scim/v2/ServiceProviderConfig", "/scim/v2/ResourceTypes", "/scim/v2/Schemas", "/api/health", "/api/health/live",
                                 "/api/v1/openapi.json", "/api/v1/openapi.yaml", "/api/docs"] {
                        let reply = try await roster.send(.get, path, headers: [.authorization: "Bearer \(roster.scimToken)"])
                        #expect(reply.status == .ok, "\(path)")
                        #expect(reply.headers[.rateLimit] == nil, "\(path)")
                    }
                    let metrics = try await roster.send(.get, "/metrics", headers: metricsKey)
                    #expect(metrics.status == .ok)
                    #expect(metrics.headers[.rateLimit] == nil)
                }
                // Neither credential spent anything above.
                #expect(try await roster.scim(.get, "/Users").headers[.rateLimit] == #""scim";r=0;t=60"#)
                #expect(try await roster.admin(.get, "/tenants").headers[.rateLimit] == #""admin";r=0;t=60"#)
            }
        }

        @Test("a change another process makes in the database applies here within the refresh interval")
        func otherProcessChange() async throws {
            try await Roster.run(scim: policy("100/60s"), admin: nil, refresh: .milliseconds(100)) { roster in
                let tokenID = try #require(UUID(uuidString: try await roster.scimTokenID()))
                #expect(try await roster.scim(.get, "/Users").headers[.rateLimitPolicy] == #""scim";q=100;w=60"#)
                try await withDatabase(url: roster.databaseURL, logger: TestPostgres.require().logger) { db in
                    let tenant = try #require(try await TenantRepository(database: db).find("default"))
                    let stored = try await RateLimitRepository(database: db).setScimToken(
                        tenant: tenant.id, id: tokenID, RateLimitSetting(requests: 7, windowSeconds: 70), by: .system)
                    #expect(stored)
                }
                var seen: String?
                for _ in 0..<50 where seen != #""scim";q=7;w=70"# {
                    try await Task.sleep(for: .milliseconds(100))
                    seen = try await roster.scim(.get, "/Users").headers[.rateLimitPolicy]
                }
                #expect(seen == #""scim";q=7;w=70"#)
            }
        }
    }
}
