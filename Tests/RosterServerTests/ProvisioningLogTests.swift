import Foundation
import Hummingbird
import RosterAuth
@testable import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Provisioning log: what a tenant's SCIM clients sent and were answered, never a secret")
    struct ProvisioningLogTests {
        /// The tenant's log (newest first) once it holds at least `count` entries; entries are written about a second late.
        static func entries(
            _ roster: Roster, tenant: String = "default", count: Int, query: String = "", key: String? = nil
        ) async throws -> [JSONValue] {
            let deadline = ContinuousClock.now + .seconds(20)
            while true {
                let reply = try await roster.admin(.get, "/tenants/\(tenant)/provisioning-log?limit=500\(query)", key: key)
                #expect(reply.status == .ok, "\(reply.body)")
                let entries = reply.json["data"]?.arrayValue ?? []
                if entries.count >= count || ContinuousClock.now > deadline { return entries }
                try await Task.sleep(for: .milliseconds(200))
            }
        }

        @Test("Each request is recorded: method, path, status, a failure's scimType and detail, User-Agent; never the body or a token")
        func records() async throws {
            try await Roster.run { roster in
                let secretPassword = "Tr0ub4dor&3-never-logged"
                let user = #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada","password":"\#(secretPassword)"}"#
                let agent: HTTPFields = [.userAgent: "Okta SCIM Client 1.0.0"]
                #expect(try await roster.scim(.post, "/Users", body: user, headers: agent).status == .created)
                try await roster.scim(.post, "/Users", body: user, headers: agent).expectScimError(.conflict, "uniqueness")
                let leaked = try await roster.scim(.get, "/Users?filter=userName%20eq%20%22ada%22&access_token=\(roster.scimToken)")
                #expect(leaked.status == .ok)

                let entries = try await Self.entries(roster, count: 3)
                try #require(entries.count == 3)
                let (get, conflict, created) = (entries[0], entries[1], entries[2])
                #expect(created["method"] == "POST" && created["path"] == "/scim/v2/Users" && created["status"] == 201)
                #expect(created["user_agent"] == "Okta SCIM Client 1.0.0")
                #expect(created["scim_type"] == nil && created["detail"] == nil)
                #expect(conflict["status"] == 409 && conflict["scim_type"] == "uniqueness")
                #expect(conflict["detail"]?.stringValue?.contains("userName") == true)
                #expect(get["status"] == 200)
                #expect(get["path"]?.stringValue?.contains("access_token=scim_…") == true, "\(get)")
                for entry in entries {
                    if case .integer(let latency)? = entry["latency_ms"] { #expect(latency >= 0) } else { Issue.record("no latency_ms: \(entry)") }
                    #expect(entry["token_id"]?.stringValue?.isEmpty == false)
                    #expect(entry["request_id"]?.stringValue?.isEmpty == false)
                }
                let whole = try await roster.admin(.get, "/tenants/default/provisioning-log").body
                #expect(!whole.contains(secretPassword))
                #expect(!whole.contains(roster.scimToken))
                #expect(!whole.contains(String(roster.scimToken.dropFirst(5))))
            }
        }

        @Test("A request with an unknown, revoked or admin credential is not recorded: it shows no one whose it was")
        func unauthenticatedNotRecorded() async throws {
            try await Roster.run { roster in
                try await roster.scim(.get, "/Users", token: "scim_" + String(repeating: "A", count: 43)).expectScimError(.unauthorized)
                try await roster.scim(.get, "/Users", token: roster.adminKey).expectScimError(.unauthorized)
                #expect(try await roster.scim(.get, "/Users").status == .ok)
                let entries = try await Self.entries(roster, count: 1)
                try await Task.sleep(for: .milliseconds(1500))
                let again = try await Self.entries(roster, count: 1)
                #expect(entries.count == 1 && again.count == 1, "\(again)")
                #expect(again.first?["status"] == 200)
            }
        }

        @Test("A tenant's log holds only its own requests; other tenants' keys get 404, a key without the scope 403")
        func isolation() async throws {
            try await Roster.run { roster in
                let other = try await roster.otherTenant("acme")
                #expect(try await roster.scim(.get, "/Users", token: other.token).status == .ok)
                #expect(try await roster.scim(.get, "/Groups").status == .ok)
                let own = try await Self.entries(roster, count: 1)
                let theirs = try await Self.entries(roster, tenant: "acme", count: 1)
                #expect(own.count == 1 && own.first?["path"] == "/scim/v2/Groups")
                #expect(theirs.count == 1 && theirs.first?["path"] == "/scim/v2/Users")

                let acmeKey = try await roster.admin(.post, "/admin-keys", body: #"{"name":"acme","scopes":["provisioning:read"],"tenant":"acme"}"#)
                let acme = try #require(acmeKey.json["key"]?.stringValue)
                #expect(try await roster.admin(.get, "/tenants/acme/provisioning-log", key: acme).status == .ok)
                try await roster.admin(.get, "/tenants/default/provisioning-log", key: acme).expectAdminError(.notFound)
                let narrow = try await roster.admin(.post, "/admin-keys", body: #"{"name":"narrow","scopes":["scim-tokens"],"tenant":"acme"}"#)
                let narrowKey = try #require(narrow.json["key"]?.stringValue)
                try await roster.admin(.get, "/tenants/acme/provisioning-log", key: narrowKey).expectAdminError(.forbidden)
                try await roster.admin(.get, "/tenants/acme/provisioning-log", key: roster.scimToken).expectAdminError(.unauthorized)
            }
        }

        @Test("Paging newest first by cursor, the outcome and since filters, and bad parameters answered 400")
        func paging() async throws {
            try await Roster.run { roster in
                for index in 0..<7 { #expect(try await roster.scim(.get, "/Users?count=\(index)").status == .ok) }
                try await roster.scim(.get, "/Users/not-an-id").expectScimError(.notFound)
                let all = try await Self.entries(roster, count: 8)
                try #require(all.count == 8)
                var seen: [JSONValue] = []
                var cursor: String?
                repeat {
                    let reply = try await roster.admin(.get, "/tenants/default/provisioning-log?limit=3" + (cursor.map { "&cursor=\($0)" } ?? ""))
                    #expect(reply.status == .ok)
                    seen += reply.json["data"]?.arrayValue ?? []
                    cursor = reply.json["next_cursor"]?.stringValue
                } while cursor != nil && seen.count < 20
                #expect(seen.map { $0["id"] } == all.map { $0["id"] })
                let ids = all.compactMap { $0["id"]?.stringValue.flatMap { Int64($0) } }
                #expect(ids == ids.sorted(by: >))

                let failed = try await roster.admin(.get, "/tenants/default/provisioning-log?outcome=failed").json["data"]?.arrayValue ?? []
                #expect(failed.count == 1 && failed.first?["status"] == 404)
                let succeeded = try await roster.admin(.get, "/tenants/default/provisioning-log?outcome=succeeded").json["data"]?.arrayValue ?? []
                #expect(succeeded.count == 7)
                let future = try await roster.admin(.get, "/tenants/default/provisioning-log?since=2999-01-01T00:00:00Z").json["data"]?.arrayValue
                #expect(future?.isEmpty == true)

                for bad in ["cursor=abc", "cursor=-1", "cursor=0", "cursor=99999999999999999999999", "limit=0", "limit=501", "limit=x", "outcome=all", "since=yesterday"] {
                    try await roster.admin(.get, "/tenants/default/provisioning-log?\(bad)").expectAdminError(.badRequest)
                }
            }
        }

        @Test("Pruning deletes entries past the retention, then each tenant's beyond its newest N")
        func prune() async throws {
            try await Roster.run { roster in
                let other = try await roster.otherTenant("acme")
                try await withDatabase(url: roster.databaseURL, logger: TestPostgres.require().logger) { db in
                    let tenants = TenantRepository(database: db)
                    let defaultID = try #require(try await tenants.find("default")).id
                    let acmeID = try #require(UUID(uuidString: other.id))
                    let log = ProvisioningLog(database: db)
                    func entry(_ tenant: UUID, ageDays: Double) -> ProvisioningEntry {
                        ProvisioningEntry(
                            tenantID: tenant, occurred: Date().addingTimeInterval(-ageDays * 86_400), tokenID: UUID(), method: "GET",
                            path: "/scim/v2/Users", status: 200, scimType: nil, detail: nil, userAgent: nil, latencyMilliseconds: 1, requestID: nil)
                    }
                    try await log.record((0..<5).map { _ in entry(defaultID, ageDays: 10) } + (0..<30).map { _ in entry(defaultID, ageDays: 0) }
                        + (0..<4).map { _ in entry(acmeID, ageDays: 0) } + [entry(UUID(), ageDays: 0)])
                    let deleted = try await log.prune(olderThan: .seconds(7 * 86_400), keep: 20)
                    #expect(deleted == 15)
                    let (kept, more) = try await log.read(.init(tenant: defaultID, limit: 100))
                    #expect(kept.count == 20 && !more)
                    #expect(kept.allSatisfy { $0.occurred > Date().addingTimeInterval(-86_400) })
                    #expect(try await log.read(.init(tenant: acmeID, limit: 100)).entries.count == 4)
                }
            }
        }

        @Test("The recorder's buffer is bounded: past its capacity entries are dropped and counted, and a drain empties it")
        func boundedBuffer() {
            let recorder = ProvisioningRecorder(capacity: 3)
            let entry = ProvisioningEntry(
                tenantID: UUID(), occurred: Date(), tokenID: UUID(), method: "GET", path: "/scim/v2/Users", status: 200, scimType: nil,
                detail: nil, userAgent: nil, latencyMilliseconds: 1, requestID: nil)
            for _ in 0..<5 { recorder.add(entry) }
            let first = recorder.drain()
            #expect(first.entries.count == 3 && first.dropped == 2)
            let second = recorder.drain()
            #expect(second.entries.isEmpty && second.dropped == 0)
            recorder.add(entry)
            #expect(recorder.drain().entries.count == 1)
        }

        @Test("Secrets in a recorded text are masked, whatever surrounds them", arguments: [
            ("/scim/v2/Users?access_token=scim_abcDEF123-_xyz", "/scim/v2/Users?access_token=scim_…"),
            ("Bearer radm_0123456789abcdef and rrt_zzzzzzzzz", "Bearer radm_… and rrt_…"),
            ("link rset_AbC.def%20x end", "link rset_… end"),
            ("jwt eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.sig-_ done", "jwt eyJ… done"),
            ("scim_", "scim_"),
            ("/scim/v2/Users?filter=userName eq \"ada\"", "/scim/v2/Users?filter=userName eq \"ada\""),
            ("two scim_aaa scim_bbb", "two scim_… scim_…"),
            ("unicode scim_abcé", "unicode scim_…é"),
        ])
        func masking(input: String, expected: String) {
            #expect(SecretMask.masked(input) == expected)
        }
    }
}
