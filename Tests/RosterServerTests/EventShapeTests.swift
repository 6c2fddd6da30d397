import Foundation
import RosterFeed
import SCIM
import Testing

@testable import RosterServer
@testable import RosterStore

@Suite("One event, one shape: a webhook's data and the pull API's event are the same JSON")
struct EventShapeTests {
    static let user = UUID(), group = UUID()

    static func event(_ actor: Actor, type: EventType, data: [String: JSONValue]) -> ChangeEvent {
        ChangeEvent(
            tenant: UUID(), sequence: 42, id: UUID(), type: type, resourceType: type.rawValue.hasPrefix("user") ? "User" : "Group",
            resourceID: UUID(), resourceVersion: 7, actor: actor, transaction: UUID(),
            occurred: Date(timeIntervalSince1970: 1_800_000_000.685432), data: data)
    }

    /// The pull API's event as the server writes it: the generated type through the admin API's date transcoder.
    static func pulled(_ event: ChangeEvent) throws -> JSONValue {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(try RFC3339Dates().encode(date))
        }
        return try JSONValue.parse(try encoder.encode(try Components.Schemas.Event(event)))
    }

    /// The webhook's `data`, from the body the dispatcher signs and sends.
    static func pushed(_ event: ChangeEvent) throws -> JSONValue {
        try #require(try JSONValue.parse(WebhookPayload.body(event))["data"])
    }

    @Test("every kind of actor, and both kinds of data", arguments: [
        event(.scimToken(UUID()), type: .userCreated, data: ["userName": "bjensen", "active": true, "emails": [["value": "b@example.com"]]]),
        event(.adminKey(UUID()), type: .userUpdated, data: ["userName": "bjensen", "name": ["givenName": "Barbara"]]),
        event(.adminKey(nil), type: .groupUpdated, data: ["displayName": "Staff"]),
        event(.adminUser(UUID()), type: .userDeleted, data: ["userName": "gone"]),
        event(.oidc("https://issuer.example subject-1"), type: .groupCreated, data: ["displayName": "Ops"]),
        event(.system, type: .groupMembersAdded, data: ["members": [["value": .string(user.uuidString.lowercased()), "type": "User"]]]),
        event(.scimToken(UUID()), type: .groupMembersRemoved, data: ["members": [["value": .string(group.uuidString.lowercased()), "type": "Group"]]]),
    ])
    func same(event: ChangeEvent) throws {
        let pushed = try Self.pushed(event), pulled = try Self.pulled(event)
        #expect(pushed == pulled)
        #expect(pushed["actor"]?["type"] == .string(event.actor.type), "the actor keeps its own kind")
        #expect(pushed["occurred_at"] == "2027-01-15T08:00:00.685Z")
    }
}
