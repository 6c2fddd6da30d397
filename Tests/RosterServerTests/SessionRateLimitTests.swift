import Foundation
import HTTPTypes
import RosterServer
import SCIM
import Testing

extension ServerSuite {
    @Suite("Rate limits: sessions spend their identity's budget, not a fresh one each")
    struct SessionRateLimitTests {
        @Test("a key and the sessions signed in with it share the key's bucket and the key's override")
        func keySessionsShareTheKeysBucket() async throws {
            try await Roster.run(scim: nil, admin: nil) { roster in
                let created = try await roster.admin(.post, "/admin-keys", body: #"{"name":"ci","scopes":["tenants"]}"#)
                let (key, id) = (try #require(created.json["key"]?.stringValue), try #require(created.json["id"]?.stringValue))
                let limit = try await roster.admin(.put, "/admin-keys/\(id)/rate-limit", body: #"{"requests":3,"window_seconds":600}"#)
                #expect(limit.status == .ok, "\(limit.body)")
                var sessions: [String] = []
                for _ in 0..<2 {
                    let signedIn = try await roster.anonymous(.post, "/auth/token", body: #"{"admin_key":"\#(key)"}"#)
                    sessions.append(try #require(signedIn.json["access_token"]?.stringValue, "\(signedIn.body)"))
                }
                // One request each from the key, the first and the second session: the budget of 3 is spent.
                let spent = [
                    try await roster.admin(.get, "/tenants", key: key),
                    try await roster.admin(.get, "/tenants", bearer: sessions[0]),
                    try await roster.admin(.get, "/tenants", bearer: sessions[1]),
                ]
                for reply in spent {
                    #expect(reply.status == .ok, "\(reply.body)")
                    #expect(reply.headers[.rateLimitPolicy] == #""admin";q=3;w=600"#, "the key's override")
                }
                for credential in [sessions[1], sessions[0]] {
                    let refused = try await roster.admin(.get, "/tenants", bearer: credential)
                    refused.expectAdminError(.tooManyRequests)
                    #expect(refused.headers[.retryAfter] != nil)
                }
                // A new session brings no new budget either.
                let third = try await roster.anonymous(.post, "/auth/token", body: #"{"admin_key":"\#(key)"}"#)
                let access = try #require(third.json["access_token"]?.stringValue)
                try await roster.admin(.get, "/tenants", bearer: access).expectAdminError(.tooManyRequests)
                try await roster.admin(.get, "/tenants", key: key).expectAdminError(.tooManyRequests)
            }
        }

        @Test("an admin user's sessions share one bucket per user")
        func userSessionsShareOneBucket() async throws {
            try await Roster.run(scim: nil, admin: policy("3/600s")) { roster in
                _ = try await roster.createAdminUser("ada@example.com", roles: ["admin"])
                let first = try await roster.signIn("ada@example.com")
                let second = try await roster.signIn("ada@example.com")
                #expect(try await roster.admin(.get, "/tenants", bearer: first.access).status == .ok)
                #expect(try await roster.admin(.get, "/tenants", bearer: second.access).status == .ok)
                #expect(try await roster.admin(.get, "/tenants", bearer: first.access).status == .ok)
                try await roster.admin(.get, "/tenants", bearer: second.access).expectAdminError(.tooManyRequests)
                let third = try await roster.signIn("ada@example.com")
                try await roster.admin(.get, "/tenants", bearer: third.access).expectAdminError(.tooManyRequests)
                // Another user's budget is their own.
                _ = try await roster.createAdminUser("bob@example.com", roles: ["admin"])
                let bob = try await roster.signIn("bob@example.com")
                #expect(try await roster.admin(.get, "/tenants", bearer: bob.access).status == .ok)
            }
        }
    }
}
