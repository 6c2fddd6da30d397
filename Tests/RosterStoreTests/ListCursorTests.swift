import Foundation
@testable import RosterStore
import SCIM
import Testing

@Suite("Admin list cursors: one encoder, each list's cursor its own")
struct ListCursorTests {
    let tenant = UUID()
    let id = UUID()

    @Test("the audit log's cursor keeps the text it always had (clients may hold one)")
    func auditCursorUnchanged() throws {
        let key = try #require(UUID(uuidString: "0b1f6c2e-5a4f-4c3e-9d47-1f2a3b4c5d6e"))
        let position = AuditPosition(microseconds: 1_767_225_605_000_000, source: .scim, key: key, sequence: 1)
        #expect(position.cursor == "YTEuMTc2NzIyNTYwNTAwMDAwMC4wLjBiMWY2YzJlLTVhNGYtNGMzZS05ZDQ3LTFmMmEzYjRjNWQ2ZS4x")
        #expect(AuditPosition(cursor: position.cursor) == position)
    }

    @Test("each position reads back from its own cursor, in its own list and scope")
    func roundTrips() {
        let created = CreatedPosition(microseconds: 1_767_225_605_123_456, id: id)
        for list in [ListCursor.List.tenants, .adminKeys, .adminUsers] {
            #expect(CreatedPosition(cursor: created.cursor(list), list) == created)
        }
        for list in [ListCursor.List.scimTokens, .webhooks, .roleGrants] {
            #expect(CreatedPosition(cursor: created.cursor(list, scope: tenant), list, scope: tenant) == created)
        }
        let delivery = DeliveryPosition(microseconds: 1_767_225_605_123_456, attempt: 3, id: id)
        let subscription = UUID()
        #expect(DeliveryPosition(cursor: delivery.cursor(tenant: tenant, subscription: subscription), tenant: tenant, subscription: subscription) == delivery)
        let role = RolePosition(builtin: false, name: "provisioning", id: id)
        #expect(RolePosition(cursor: role.cursor) == role)
        let events = NewestFirstPosition(sequence: 42)
        #expect(NewestFirstPosition(cursor: events.cursor(tenant: tenant), tenant: tenant) == events)
    }

    @Test("a cursor of another list, another scope, or none at all reads as nothing")
    func refusals() {
        let created = CreatedPosition(microseconds: 1_767_225_605_123_456, id: id)
        let tokens = created.cursor(.scimTokens, scope: tenant)
        #expect(CreatedPosition(cursor: tokens, .webhooks, scope: tenant) == nil, "another list")
        #expect(CreatedPosition(cursor: tokens, .scimTokens, scope: UUID()) == nil, "another tenant")
        #expect(CreatedPosition(cursor: tokens, .scimTokens) == nil, "no scope")
        #expect(CreatedPosition(cursor: created.cursor(.tenants), .tenants, scope: tenant) == nil)
        #expect(AuditPosition(cursor: created.cursor(.tenants)) == nil)
        #expect(RolePosition(cursor: created.cursor(.roles)) == nil)
        #expect(NewestFirstPosition(cursor: NewestFirstPosition(sequence: 2).cursor(tenant: tenant), tenant: UUID()) == nil)
        let unscoped = created.cursor(.tenants)
        #expect(CreatedPosition(cursor: unscoped + "A", .tenants) == nil, "a NUL after the id")
        let nul = Base64URL.encode(Data("t1.-.1.\(id.uuidString)\u{0}".utf8))
        #expect(CreatedPosition(cursor: nul, .tenants) == nil)
        for text in ["", "garbage", "!!!!", String(tokens.dropLast(4)), tokens + "A", String(repeating: "A", count: 400)] {
            #expect(CreatedPosition(cursor: text, .scimTokens, scope: tenant) == nil, "\(text)")
        }
    }

    @Test("a well-formed cursor whose time PostgreSQL cannot add to 'epoch' is refused, not sent (it would fail the statement)")
    func timeOutOfRange() {
        let scope = ListCursor.scope(nil)
        for microseconds in [Int64.max, Int64.min, 253_402_300_800_000_000, -62_135_596_800_000_001] {
            let forged = ListCursor.encode(.tenants, [scope, String(microseconds), id.uuidString])
            #expect(CreatedPosition(cursor: forged, .tenants) == nil, "\(microseconds)")
            let audit = ListCursor.encode(.audit, [String(microseconds), "0", id.uuidString, "1"])
            #expect(AuditPosition(cursor: audit) == nil, "\(microseconds)")
        }
        let inRange = ListCursor.encode(.tenants, [scope, "0", id.uuidString])
        #expect(CreatedPosition(cursor: inRange, .tenants) == CreatedPosition(microseconds: 0, id: id))
    }
}
