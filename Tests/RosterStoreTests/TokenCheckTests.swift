import Foundation
import PostgresNIO
import RosterAuth
@testable import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension StoreSuite {
    /// `CredentialCheck`: a read under a cached credential re-checks the token in the same statement.
    @Suite("Token re-check in the read statements")
    struct TokenCheckTests {
        @Test("under a live token every read answers as without the check; once revoked (no NOTIFY needed) every read throws")
        func readsRecheck() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url) { db in
                let tenant = try #require(try await TenantRepository(database: db).find("default")).id
                let registry = try FilterIndexTests.registry()
                let users = UserRepository(database: db, resourceType: registry.user)
                let groups = GroupRepository(database: db, resourceType: registry.group)
                var created: [UUID] = []
                for name in ["carol", "ada", "bob"] {
                    created.append(try await users.create(tenant: tenant, body: ["userName": .string(name)], change: ChangeContext(actor: .system)).id)
                }
                let ids = created
                let group = try await groups.create(
                    tenant: tenant, body: ["displayName": "Eng"], membership: [.add([MemberReference(id: ids[0], type: .user)])], withMembers: true,
                    change: ChangeContext(actor: .system)).resource.id
                let (record, _) = try await ScimTokenRepository(database: db).create(tenant: tenant, name: "cached", by: .system)
                let principal = ScimPrincipal(tenantID: record.tenantID, tokenID: record.id)

                let sorted = ResourceQuery(sortBy: AttributePath(attribute: "userName"), descending: true)
                let filtered = ResourceQuery(filter: try FilterParser.parse(#"userName eq "ada""#))
                let compiled = ResourceQuery(filter: try FilterParser.parse(#"userName sw "b""#))
                @Sendable func reads() async throws -> [String] {
                    [
                        try await users.get(tenant: tenant, id: ids[1])?.body["userName"]?.stringValue ?? "-",
                        try await users.get(tenant: tenant, id: UUID()) == nil ? "none" : "?",
                        try await groups.get(tenant: tenant, id: group).map { "\($0.resource.body["displayName"]?.stringValue ?? "")/\($0.members.count)" } ?? "-",
                        try await users.list(tenant: tenant, query: sorted).resources.compactMap { $0.body["userName"]?.stringValue }.joined(separator: ","),
                        try await users.list(tenant: tenant, query: filtered).resources.compactMap { $0.body["userName"]?.stringValue }.joined(separator: ","),
                        try await users.list(tenant: tenant, query: compiled).resources.compactMap { $0.body["userName"]?.stringValue }.joined(separator: ","),
                        try await users.listByCursor(tenant: tenant, query: { var q = sorted; q.cursorMode = true; return q }())
                            .resources.compactMap { $0.body["userName"]?.stringValue }.joined(separator: ","),
                    ]
                }
                let plain = try await reads()
                #expect(plain == ["ada", "none", "Eng/1", "carol,bob,ada", "ada", "bob", "carol,bob,ada"])
                let live = LiveCredential(principal)
                #expect(try await CredentialCheck.$current.withValue(live) { try await reads() } == plain)
                #expect(live.confirmed)

                // Another tenant's token never confirms this tenant's reads.
                let otherTenant = try await TenantRepository(database: db).create(name: "globex", by: .system).id
                let (foreign, _) = try await ScimTokenRepository(database: db).create(tenant: otherTenant, name: "x", by: .system)
                await #expect(throws: CredentialNotLive.self) {
                    try await CredentialCheck.$current.withValue(LiveCredential(ScimPrincipal(tenantID: otherTenant, tokenID: foreign.id))) {
                        _ = try await users.get(tenant: tenant, id: ids[1])
                    }
                }

                try await db.query("UPDATE scim_tokens SET revoked = now() WHERE id = \(record.id)")
                let readers: [@Sendable () async throws -> Void] = [
                    { _ = try await users.get(tenant: tenant, id: ids[1]) },
                    { _ = try await users.get(tenant: tenant, id: UUID()) },
                    { _ = try await groups.get(tenant: tenant, id: group) },
                    { _ = try await users.list(tenant: tenant, query: sorted) },
                    { _ = try await users.list(tenant: tenant, query: filtered) },
                    { _ = try await users.list(tenant: tenant, query: compiled) },
                    { _ = try await users.listByCursor(tenant: tenant, query: { var q = sorted; q.cursorMode = true; return q }()) },
                ]
                for (index, read) in readers.enumerated() {
                    let dead = LiveCredential(principal)
                    await #expect(throws: CredentialNotLive.self, "read \(index)") {
                        try await CredentialCheck.$current.withValue(dead) { try await read() }
                    }
                    #expect(!dead.confirmed)
                }
                // Without a cached credential the statements run unchecked, as before.
                #expect(try await reads() == plain)
            }
        }

        @Test("the cache: capped, expiring, evicted by token id, and a lookup that raced an eviction is not inserted")
        func cacheBounds() {
            let cache = ScimTokenCache(capacity: 3)
            func principal() -> ScimPrincipal { ScimPrincipal(tenantID: UUID(), tokenID: UUID()) }
            var hashes: [Data] = []
            for i in 0..<10 {
                let hash = Data([UInt8(i)])
                hashes.append(hash)
                cache.insert(hash, principal: principal(), expires: nil, generation: cache.generation())
            }
            #expect(cache.count == 3)
            let expiring = Data([0xEE])
            cache.insert(expiring, principal: principal(), expires: Date().addingTimeInterval(-1), generation: cache.generation())
            #expect(cache.lookup(expiring) == nil)
            let kept = Data([0xAA]), p = principal()
            cache.insert(kept, principal: p, expires: Date().addingTimeInterval(60), generation: cache.generation())
            #expect(cache.lookup(kept)?.principal == p)
            #expect(cache.lookup(kept)?.touchDue == false)
            cache.evict(tokenID: p.tokenID)
            #expect(cache.lookup(kept) == nil)
            let before = cache.generation()
            cache.evict(tokenID: UUID())
            cache.insert(kept, principal: p, expires: nil, generation: before)
            #expect(cache.lookup(kept) == nil)
            cache.clear()
            #expect(cache.count == 0)
        }
    }
}
