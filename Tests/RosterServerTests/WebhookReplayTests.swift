import Foundation
import Hummingbird
import PostgresNIO
import RosterFeed
import RosterServer
import RosterStore
import SCIM
import Testing

extension ServerSuite {
    /// `POST /api/v1/webhooks/{id}/replay` with `through_event_id`: one event or a range sent again, delivered by the
    /// dispatcher to a receiver on loopback, after which the subscription carries on from where it was.
    @Suite("Webhook replay of one event or a range")
    struct WebhookReplayTests {
        typealias Delivery = WebhookDeliveryTests

        /// The default tenant's event ids by sequence number.
        static func eventIDs(_ roster: Roster) async throws -> [Int: String] {
            let events = try #require(try await roster.admin(.get, "/events?limit=1000").json["data"]?.arrayValue)
            return Dictionary(uniqueKeysWithValues: events.compactMap { event in
                guard case .integer(let sequence)? = event["sequence"], let id = event["id"]?.stringValue else { return nil }
                return (sequence, id)
            })
        }

        static func body(_ from: String, through: String? = nil) -> String {
            through.map { #"{"event_id":"\#(from)","through_event_id":"\#($0)"}"# } ?? #"{"event_id":"\#(from)"}"#
        }

        /// Replays `from` through `through` (sequence numbers of the default tenant) and expects 202.
        @discardableResult
        static func replay(_ roster: Roster, _ subscription: UUID, _ from: Int, through: Int? = nil) async throws -> JSONValue {
            let ids = try await eventIDs(roster)
            let reply = try await roster.admin(
                .post, "/webhooks/\(subscription.uuidString.lowercased())/replay",
                body: body(try #require(ids[from]), through: try through.map { try #require(ids[$0]) }))
            #expect(reply.status == .accepted, "\(reply.body)")
            return reply.json
        }

        /// Once the subscription has recorded `attempts` deliveries and stands at `position` with no range under way
        /// (or after 30 s, for the expectations to report): then nothing is left to send.
        static func settled(_ roster: Roster, _ id: UUID, position: Int64, attempts: Int) async throws -> (WebhookSubscription?, [WebhookDelivery]) {
            try await Delivery.subscription(roster, id) { state in
                state.0?.position == position && state.0?.replay == nil && state.1.count >= attempts
            }
        }

        @Test("one event of five already delivered is sent again, alone; new events follow with none of the others again")
        func oneEvent() async throws {
            try await WebhookReceiver.run { receiver, url in
                try await Roster.run(configure: Delivery.fast) { roster in
                    let (subscription, secret) = try await Delivery.subscribe(roster, url: url)
                    for i in 1...5 { _ = try await roster.createUser("u\(i)") }
                    #expect(try await receiver.wait(for: 5).compactMap(\.sequence) == [1, 2, 3, 4, 5])
                    _ = try await Self.settled(roster, subscription.id, position: 5, attempts: 5)

                    let replayed = try await Self.replay(roster, subscription.id, 3, through: 3)
                    #expect(replayed["position"] == 2)
                    #expect(replayed["replay_through"] == 3)
                    #expect(replayed["resume_position"] == 5)
                    _ = try await receiver.wait(for: 6)
                    _ = try await roster.createUser("u6")
                    _ = try await receiver.wait(for: 7)
                    let (after, log) = try await Self.settled(roster, subscription.id, position: 6, attempts: 7)
                    #expect(after?.position == 6 && after?.replay == nil)
                    #expect(log.count == 7)
                    let received = await receiver.received
                    #expect(received.compactMap(\.sequence) == [1, 2, 3, 4, 5, 3, 6])
                    #expect(received[5].id == received[2].id, "the same webhook-id: receivers deduplicate on it")
                    #expect(received.allSatisfy { $0.signed(by: secret) })
                    #expect(try await roster.admin(.get, "/webhooks/\(subscription.id)").json["replay_through"] == nil)
                }
            }
        }

        @Test("a range [2,3] of five is sent again in order, before a newer event, which then follows; nothing else again")
        func range() async throws {
            try await WebhookReceiver.run { receiver, url in
                try await Roster.run(configure: Delivery.fast) { roster in
                    let (subscription, _) = try await Delivery.subscribe(roster, url: url)
                    for i in 1...5 { _ = try await roster.createUser("u\(i)") }
                    _ = try await receiver.wait(for: 5)
                    _ = try await Self.settled(roster, subscription.id, position: 5, attempts: 5)

                    try await Self.replay(roster, subscription.id, 2, through: 3)
                    // Written at once: it waits for the replayed events.
                    _ = try await roster.createUser("u6")
                    _ = try await receiver.wait(for: 8)
                    let (after, _) = try await Self.settled(roster, subscription.id, position: 6, attempts: 8)
                    #expect(after?.position == 6 && after?.replay == nil)
                    #expect(await receiver.received.compactMap(\.sequence) == [1, 2, 3, 4, 5, 2, 3, 6])
                }
            }
        }

        @Test("a range replayed while the subscription is behind it, or inside it: every event at least once, in order")
        func behind() async throws {
            try await WebhookReceiver.run { receiver, url in
                try await Roster.run(configure: Delivery.fast) { roster in
                    let created = try await roster.admin(.post, "/webhooks", body: #"{"url":"\#(url)"}"#)
                    let id = try #require(created.json["id"]?.stringValue)
                    let subscription = try #require(UUID(uuidString: id))
                    #expect(try await roster.admin(.patch, "/webhooks/\(id)", body: #"{"enabled":false}"#).status == .ok)
                    for i in 1...5 { _ = try await roster.createUser("u\(i)") }
                    // At 0, the range 2…4 lies ahead: nothing before it may be skipped.
                    let ahead = try await Self.replay(roster, subscription, 2, through: 4)
                    #expect(ahead["position"] == 0)
                    #expect(try await roster.admin(.patch, "/webhooks/\(id)", body: #"{"enabled":true}"#).status == .ok)
                    _ = try await receiver.wait(for: 5)
                    _ = try await Self.settled(roster, subscription, position: 5, attempts: 5)
                    #expect(await receiver.received.compactMap(\.sequence) == [1, 2, 3, 4, 5])

                    // At 5 of 8 (stopped while 6…8 were written), the range 4…7 starts before it and ends past it.
                    #expect(try await roster.admin(.patch, "/webhooks/\(id)", body: #"{"enabled":false}"#).status == .ok)
                    for i in 6...8 { _ = try await roster.createUser("u\(i)") }
                    let inside = try await Self.replay(roster, subscription, 4, through: 7)
                    #expect(inside["position"] == 3 && inside["replay_through"] == 7 && inside["resume_position"] == 5)
                    #expect(try await roster.admin(.patch, "/webhooks/\(id)", body: #"{"enabled":true}"#).status == .ok)
                    _ = try await receiver.wait(for: 10)
                    _ = try await Self.settled(roster, subscription, position: 8, attempts: 10)
                    #expect(await receiver.received.compactMap(\.sequence) == [1, 2, 3, 4, 5, 4, 5, 6, 7, 8])
                }
            }
        }

        @Test("a replay while an event is in flight: the range goes out next, then that event again, then the rest")
        func racingDelivery() async throws {
            let gate = Gate()
            // The receiver holds the 4th request (event 4) until the replay has been answered.
            try await WebhookReceiver.run(respond: { index in
                if index == 3 { await gate.wait() }
                return (.noContent, [:])
            }) { receiver, url in
                try await Roster.run(configure: {
                    Delivery.fast(&$0)
                    $0.webhooks.timeout = .seconds(120)  // the held request must not time out on a loaded machine
                    // Nor outlast the lease: past it the process may claim the subscription again while its first
                    // worker still waits (default timeouts end an attempt well within the lease).
                    $0.webhooks.lease = .seconds(600)
                }) { roster in
                    let (subscription, _) = try await Delivery.subscribe(roster, url: url)
                    for i in 1...5 { _ = try await roster.createUser("u\(i)") }
                    #expect(try await receiver.wait(for: 4).compactMap(\.sequence) == [1, 2, 3, 4])
                    // Event 4 is in flight: the subscription stands at 3.
                    let replayed = try await Self.replay(roster, subscription.id, 1, through: 2)
                    #expect(replayed["position"] == 0 && replayed["replay_through"] == 2 && replayed["resume_position"] == 3)
                    await gate.open()
                    _ = try await roster.createUser("u6")
                    _ = try await receiver.wait(for: 9)
                    let (after, log) = try await Self.settled(roster, subscription.id, position: 6, attempts: 8)
                    #expect(after?.position == 6 && after?.replay == nil)
                    #expect(await receiver.received.compactMap(\.sequence) == [1, 2, 3, 4, 1, 2, 4, 5, 6])
                    #expect(log.filter { $0.eventSequence == 4 }.count == 1, "the answer to event 4's first attempt came after the replay: not recorded")
                }
            }
        }

        @Test("refused replays: an end before the start, an unknown, another tenant's or aged-out event, a malformed id: 400 or 404, nothing changes")
        func badInput() async throws {
            try await Roster.run(configure: WebhookAdminTests.adminOnly) { roster in
                for name in ["alice", "bob", "carol", "dave"] { _ = try await roster.createUser(name) }
                let id = try #require(try await WebhookAdminTests.create(roster).json["id"]?.stringValue)
                let ids = try await Self.eventIDs(roster)
                let (e1, e2, e3, e4) = (try #require(ids[1]), try #require(ids[2]), try #require(ids[3]), try #require(ids[4]))
                let other = try await roster.otherTenant("other")
                _ = try await roster.scim(.post, "/Users", token: other.token, body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x"}"#)
                let foreign = try #require(try await roster.admin(.get, "/tenants/other/events").json["data"]?[0]?["id"]?.stringValue)
                // Event 4 ages out of the feed (retention deletes old events).
                try await roster.sql { db in try await db.query("DELETE FROM events WHERE id = \(UUID(uuidString: e4)!)") }

                let path = "/webhooks/\(id)/replay"
                let cases: [(String, String, HTTPResponse.Status)] = [
                    ("through before from", Self.body(e3, through: e1), .badRequest),
                    ("unknown through", Self.body(e1, through: UUID().uuidString), .notFound),
                    ("other tenant's through", Self.body(e1, through: foreign), .notFound),
                    ("other tenant's from", Self.body(foreign, through: e1), .notFound),
                    ("aged-out through", Self.body(e1, through: e4), .notFound),
                    ("aged-out from", Self.body(e4, through: e4), .notFound),
                    ("malformed through", Self.body(e1, through: "not-an-id"), .badRequest),
                    ("malformed from", Self.body("not-an-id", through: e1), .badRequest),
                    ("through not a string", #"{"event_id":"\#(e1)","through_event_id":5}"#, .badRequest),
                ]
                for (label, body, status) in cases {
                    let reply = try await roster.admin(.post, path, body: body)
                    #expect(reply.status == status, "\(label): \(reply.body)")
                    reply.expectAdminError(status)
                }
                let reversed = try await roster.admin(.post, path, body: Self.body(e3, through: e1))
                #expect(reversed.json["error"]?["message"]?.stringValue?.contains("comes before") == true, "\(reversed.body)")
                try await roster.admin(.post, "/tenants/other/webhooks/\(id)/replay", body: Self.body(e1, through: e2)).expectAdminError(.notFound)

                let unchanged = try await roster.admin(.get, "/webhooks/\(id)").json
                #expect(unchanged["position"] == 4 && unchanged["replay_through"] == nil && unchanged["resume_position"] == nil)
                let audited = try await AuditLogTests.adminEntries(roster).filter { $0["action"] == "webhook.replayed" }
                #expect(audited.isEmpty, "a refused replay has no audit entry")

                // The same range, in order, is taken; the audit entry names both ends.
                let accepted = try await roster.admin(.post, path, body: Self.body(e1, through: e3))
                #expect(accepted.status == .accepted, "\(accepted.body)")
                #expect(accepted.json["position"] == 0 && accepted.json["replay_through"] == 3 && accepted.json["resume_position"] == 4)
                let entry = try #require(try await AuditLogTests.adminEntries(roster).last { $0["action"] == "webhook.replayed" })
                #expect(entry["details"] == [
                    "event_id": .string(e1), "event_sequence": 1, "through_event_id": .string(e3), "through_event_sequence": 3,
                ])
            }
        }
    }
}

/// Holds whoever waits until it is opened (or 60 s have passed, so a broken test fails instead of hanging).
actor Gate {
    private var isOpen = false

    func open() { isOpen = true }

    func wait() async {
        let deadline = ContinuousClock.now + .seconds(60)
        while !isOpen && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
    }
}
