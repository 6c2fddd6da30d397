import Foundation
import HTTPTypes
import PostgresNIO
import RosterAuth
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

/// The SCIM token cache (`ScimTokenCache`): a read authenticated from it re-checks the token in its own statement,
/// so a revoked or expired token is refused at once on every instance, whatever its cache holds.
extension ServerSuite {
    @Suite("SCIM token cache: one round trip, never a revoked token")
    struct TokenCacheTests {
        /// A new token of the default tenant, through the admin API: (secret, id).
        static func token(_ roster: Roster, expires: String? = nil) async throws -> (String, String) {
            let body = expires.map { #"{"name":"cache","expires_at":"\#($0)"}"# } ?? #"{"name":"cache"}"#
            let created = try await roster.admin(.post, "/scim/tokens", body: body)
            #expect(created.status == .created, "\(created.body)")
            return (try #require(created.json["token"]?.stringValue), try #require(created.json["id"]?.stringValue))
        }

        /// Changes the token's row directly, as nothing but the database sees it: no NOTIFY reaches any cache.
        static func silently(_ roster: Roster, _ sql: PostgresQuery) async throws {
            _ = try await withDatabase(url: roster.databaseURL, logger: try TestPostgres.require().logger) { db in
                try await db.query(sql)
            }
        }

        static func cacheEntries(_ roster: Roster) async throws -> Double? {
            let reply = try await roster.send(.get, "/metrics", headers: [.authorization: "Bearer \(roster.adminKey)"])
            #expect(reply.status == .ok, "\(reply.body)")
            return reply.body.split(separator: "\n").first { $0.hasPrefix("roster_scim_token_cache_entries ") }
                .flatMap { Double($0.split(separator: " ")[1]) }
        }

        /// Every read route, each of which must re-check a cached token (or confirm it) before answering.
        static func reads(user: String, group: String) -> [(HTTPRequest.Method, String, String?)] {
            [
                (.get, "/Users/\(user)", nil),
                (.get, "/Groups/\(group)", nil),
                (.get, "/Groups/\(group)?excludedAttributes=members", nil),
                (.get, "/Users", nil),
                (.get, "/Users?filter=" + #"userName eq "ada""#.urlQueryEncoded, nil),
                (.get, "/Users?filter=" + #"userName sw "ad""#.urlQueryEncoded, nil),
                (.get, "/Groups?filter=" + #"displayName eq "Eng""#.urlQueryEncoded, nil),
                (.get, "/Users?cursor=&count=5", nil),
                (.get, "/Users?count=0", nil),
                (.get, "/Users/\(UUID().uuidString.lowercased())", nil),
                (.post, "/Users/.search", #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName eq \"ada\""}"#),
                (.post, "/.search", #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}"#),
            ]
        }

        /// How a test revokes a token: through the admin API (which NOTIFYs every cache), or by changing its row
        /// directly, which no cache hears of.
        enum Revocation: String, CaseIterable, Sendable {
            case adminAPI, withoutNotification
        }

        @Test("revoked, the token is 401 on the very next GET, list, filter or search: through the admin API, or behind the cache's back (no NOTIFY), where the statement's own check refuses it", arguments: Revocation.allCases)
        func revoked(_ how: Revocation) async throws {
            try await Roster.run { roster in
                let user = try await roster.createUser("ada")
                let group = try await roster.createGroup("Eng", members: [user])
                for (method, path, body) in Self.reads(user: user, group: group) {
                    let (token, id) = try await Self.token(roster)
                    let warm = try await roster.scim(method, path, token: token, body: body)
                    #expect(warm.status == .ok || warm.status == .notFound, "\(path): \(warm.body)")
                    let cached = try await roster.scim(method, path, token: token, body: body)
                    #expect(cached.status == warm.status, "\(path): cached, the answer is the same")
                    switch how {
                    case .adminAPI:
                        #expect(try await roster.admin(.delete, "/scim/tokens/\(id)").status == .ok)
                    case .withoutNotification:
                        try await Self.silently(roster, "UPDATE scim_tokens SET revoked = now() WHERE id = \(UUID(uuidString: id)!)")
                    }
                    try await roster.scim(method, path, token: token, body: body).expectScimError(.unauthorized)
                    try await roster.scim(method, path, token: token, body: body).expectScimError(.unauthorized)
                }
            }
        }

        @Test("the cached answer is the database's: the same bodies with a cached token as with a fresh lookup")
        func sameAnswers() async throws {
            try await Roster.run { roster in
                let user = try await roster.createUser("ada", extra: #","emails":[{"value":"ada@example.com","type":"work"}]"#)
                _ = try await roster.createUser("grace")
                let group = try await roster.createGroup("Eng", members: [user])
                let (token, _) = try await Self.token(roster)
                for (method, path, body) in Self.reads(user: user, group: group)
                    + [(.get, "/Users?filter=" + #"emails[type eq "work" and value eq "ada@example.com"]"#.urlQueryEncoded, nil),
                       (.get, "/Users?filter=" + #"userName eq "nobody""#.urlQueryEncoded, nil),
                       (.get, "/Users?startIndex=5&filter=" + #"userName eq "ada""#.urlQueryEncoded, nil)]
                {
                    let fresh = try await roster.scim(method, path, token: token, body: body)
                    let cached = try await roster.scim(method, path, token: token, body: body)
                    #expect(cached.status == fresh.status, "\(path)")
                    #expect(cached.json == fresh.json || path.contains("/.search") || path == "/Users" || path.contains("cursor"), "\(path)")
                }
            }
        }

        @Test("two instances on one database: what instance A does to a token, instance B's very next request sees")
        func acrossInstances() async throws {
            try await Roster.run { a in
                let user = try await a.createUser("ada")
                let other = try await a.otherTenant("globex")
                let theirs = try await a.createUser("wile", token: other.token)
                try await a.replica { b in
                    // Revoked through A's admin API: B, which has it cached, refuses it on its next request.
                    let (revoked, revokedID) = try await Self.token(a)
                    #expect(try await b.scim(.get, "/Users/\(user)", token: revoked).status == .ok)
                    #expect(try await b.scim(.get, "/Users", token: revoked).status == .ok)
                    #expect(try await a.admin(.delete, "/scim/tokens/\(revokedID)").status == .ok)
                    try await b.scim(.get, "/Users/\(user)", token: revoked).expectScimError(.unauthorized)
                    try await b.scim(.get, "/Users", token: revoked).expectScimError(.unauthorized)

                    // Revoked with B's cache warm and before any notification could reach it (no NOTIFY at all).
                    let (quiet, quietID) = try await Self.token(a)
                    #expect(try await b.scim(.get, "/Users/\(user)", token: quiet).status == .ok)
                    try await Self.silently(a, "UPDATE scim_tokens SET revoked = now() WHERE id = \(UUID(uuidString: quietID)!)")
                    try await b.scim(.get, "/Users/\(user)", token: quiet).expectScimError(.unauthorized)

                    // Expiry passed while cached: set behind the cache's back, and a token whose cached expiry runs out.
                    let (expired, expiredID) = try await Self.token(a)
                    #expect(try await b.scim(.get, "/Users?filter=" + #"userName eq "ada""#.urlQueryEncoded, token: expired).status == .ok)
                    try await Self.silently(a, "UPDATE scim_tokens SET expires = now() - interval '1 second' WHERE id = \(UUID(uuidString: expiredID)!)")
                    try await b.scim(.get, "/Users?filter=" + #"userName eq "ada""#.urlQueryEncoded, token: expired).expectScimError(.unauthorized)
                    // Ten seconds ahead, so a loaded machine still creates it before then; then past it, whatever that took.
                    let expiry = Date().addingTimeInterval(10)
                    let (short, _) = try await Self.token(a, expires: ISO8601DateFormatter().string(from: expiry))
                    #expect(try await b.scim(.get, "/Users/\(user)", token: short).status == .ok)
                    try await Task.sleep(for: .seconds(max(0, expiry.timeIntervalSinceNow) + 1))
                    try await b.scim(.get, "/Users/\(user)", token: short).expectScimError(.unauthorized)

                    // A token of tenant A on tenant B's resource id: 404, and nothing of the resource.
                    #expect(try await b.scim(.get, "/Users/\(user)").status == .ok)  // cached on B
                    let foreign = try await b.scim(.get, "/Users/\(theirs)")
                    foreign.expectScimError(.notFound)
                    #expect(!foreign.body.contains("wile"))
                    #expect(try await b.scim(.get, "/Users/\(theirs)", token: other.token).status == .ok)

                    // A flood of unknown tokens: each 401, none cached.
                    let entries = try await Self.cacheEntries(b)
                    for _ in 0..<200 {
                        try await b.scim(.get, "/Users/\(user)", token: Secret.generate(.scimToken).reveal()).expectScimError(.unauthorized)
                    }
                    #expect(try await Self.cacheEntries(b) == entries)
                    #expect(try #require(entries) <= 10)
                }
            }
        }

        @Test("the token is still served after its checks, and last_used is written once, off the request's path")
        func lastUsed() async throws {
            try await Roster.run { roster in
                let (token, id) = try await Self.token(roster)
                for _ in 0..<5 { #expect(try await roster.scim(.get, "/Users", token: token).status == .ok) }
                let tokens = try await roster.admin(.get, "/scim/tokens")
                let record = tokens.json["data"]?.arrayValue?.first { $0["id"]?.stringValue == id }
                #expect(record?["last_used"]?.stringValue != nil, "\(tokens.body)")
            }
        }
    }
}
