import Foundation
import Hummingbird
import PostgresNIO
import RosterFeed
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Webhook delivery: signed, in order, retried")
    struct WebhookDeliveryTests {
        /// A subscription of the default tenant to `url`, straight through the store.
        static func subscribe(_ roster: Roster, url: String, types: [EventType]? = nil) async throws -> (WebhookSubscription, WebhookSecret) {
            try await withDatabase(url: roster.databaseURL, logger: TestPostgres.require().logger, secrets: TestSecrets.atRest) { db in
                let tenant = try #require(try await TenantRepository(database: db).find("default")).id
                return try await WebhookSubscriptions(database: db).create(tenant: tenant, url: url, eventTypes: types, description: "test", by: .system)
            }
        }

        static func subscription(_ roster: Roster, _ id: UUID) async throws -> (WebhookSubscription?, [WebhookDelivery]) {
            try await withDatabase(url: roster.databaseURL, logger: TestPostgres.require().logger, secrets: TestSecrets.atRest) { db in
                let tenant = try #require(try await TenantRepository(database: db).find("default")).id
                let subscriptions = WebhookSubscriptions(database: db)
                return (try await subscriptions.get(tenant: tenant, id: id), try await subscriptions.deliveries(tenant: tenant, subscription: id))
            }
        }

        /// The subscription and its log once `done` holds of them (or after 30 s, for the expectations to report).
        static func subscription(
            _ roster: Roster, _ id: UUID, once done: ((WebhookSubscription?, [WebhookDelivery])) -> Bool
        ) async throws -> (WebhookSubscription?, [WebhookDelivery]) {
            var state = try await subscription(roster, id)
            for _ in 0..<600 where !done(state) {
                try await Task.sleep(for: .milliseconds(50))
                state = try await subscription(roster, id)
            }
            return state
        }

        /// Quick retries; a timeout long enough that a loaded test machine never trips it by accident.
        static func fast(_ configuration: inout RosterConfiguration) {
            configuration.webhooks.schedule = RetrySchedule(delays: [.zero, .milliseconds(200), .milliseconds(200)], jitter: 0)
            configuration.webhooks.timeout = .seconds(10)
        }

        @Test("every event reaches the receiver once, in commit order, signed; the body is {type, timestamp, data} with the pull API's event")
        func inOrderSigned() async throws {
            try await WebhookReceiver.run { receiver, url in
                try await Roster.run(configure: Self.fast) { roster in
                    let (subscription, secret) = try await Self.subscribe(roster, url: url)
                    // Several clients write at once.
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for client in 0..<4 {
                            group.addTask {
                                for i in 0..<10 { _ = try await roster.createUser("c\(client)-\(i)") }
                            }
                        }
                        try await group.waitForAll()
                    }
                    let received = try await receiver.wait(for: 40)
                    #expect(received.count == 40)
                    #expect(received.compactMap(\.sequence) == Array(1...40), "in commit order, each once")
                    #expect(received.allSatisfy { $0.signed(by: secret) })
                    #expect(received.allSatisfy { $0.type == "user.created" })
                    let events = try await roster.admin(.get, "/events?limit=1000").json["data"]?.arrayValue ?? []
                    #expect(received.map { $0.json["data"] } == events, "the body's data is the pull API's event")
                    #expect(received.map(\.id) == events.compactMap { $0["id"]?.stringValue }, "webhook-id is the event id")
                    #expect(received.allSatisfy { abs($0.timestamp - Int(Date().timeIntervalSince1970)) < 60 })
                    let (after, deliveries) = try await Self.subscription(roster, subscription.id) { $0.1.count >= 40 }
                    #expect(after?.position == 40)
                    #expect(deliveries.count == 40)
                    #expect(deliveries.allSatisfy { $0.outcome == .succeeded && $0.statusCode == 204 && $0.attempt == 1 })
                }
            }
        }

        @Test("a 500, a timeout and a refused connection are retried, and the next event waits for the one before")
        func retries() async throws {
            // Request 0 fails with 500, request 1 takes longer than the timeout, the rest succeed.
            try await WebhookReceiver.run(respond: { index in
                if index == 0 { return (.internalServerError, [:]) }
                if index == 1 { try? await Task.sleep(for: .seconds(4)) }
                return (.ok, [:])
            }) { receiver, url in
                try await Roster.run(configure: {
                    Self.fast(&$0)
                    $0.webhooks.timeout = .seconds(2)
                }) { roster in
                    let (subscription, _) = try await Self.subscribe(roster, url: url)
                    _ = try await roster.createUser("a")
                    _ = try await roster.createUser("b")
                    let received = try await receiver.wait(for: 4)
                    #expect(received.compactMap(\.sequence) == [1, 1, 1, 2], "event 1 three times (500, timeout, ok), then event 2")
                    let (_, deliveries) = try await Self.subscription(roster, subscription.id) { $0.1.count >= 4 }
                    let first = deliveries.filter { $0.eventSequence == 1 }.sorted { $0.attempt < $1.attempt }
                    #expect(first.map(\.outcome) == [.retrying, .retrying, .succeeded])
                    #expect(first.first?.statusCode == 500)
                    #expect(first.dropFirst().first?.error == "timed out")
                    #expect(first.first?.nextRetryAt != nil)
                }
            }
            // Nothing listens: every attempt fails to connect, the schedule runs out, the subscription pauses.
            try await Roster.run(configure: Self.fast) { roster in
                let (subscription, _) = try await Self.subscribe(roster, url: "http://127.0.0.1:9/hook")
                _ = try await roster.createUser("a")
                let state = try await Self.subscription(roster, subscription.id) { $0.0?.pausedAt != nil && $0.1.count >= 3 }
                #expect(state.0?.pausedAt != nil, "the schedule ran out")
                #expect(state.0?.position == 0, "a failed event is not skipped")
                #expect(state.1.map(\.outcome).sorted { $0.rawValue < $1.rawValue } == [.failed, .retrying, .retrying])
                #expect(state.1.allSatisfy { $0.statusCode == nil && $0.error?.isEmpty == false })
            }
        }

        @Test("410 Gone disables the subscription; 429 with Retry-After waits at least that long")
        func goneAndRetryAfter() async throws {
            try await WebhookReceiver.run(respond: { _ in (.gone, [:]) }) { receiver, url in
                try await Roster.run(configure: Self.fast) { roster in
                    let (subscription, _) = try await Self.subscribe(roster, url: url)
                    _ = try await roster.createUser("a")
                    _ = try await roster.createUser("b")
                    #expect(try await receiver.wait(for: 1).count == 1)
                    try await Task.sleep(for: .milliseconds(600))
                    #expect(await receiver.received.count == 1, "nothing more is sent")
                    let (after, deliveries) = try await Self.subscription(roster, subscription.id) { !$0.1.isEmpty }
                    #expect(after?.enabled == false)
                    #expect(after?.disabledReason == "gone")
                    #expect(deliveries.map(\.outcome) == [.disabled])
                }
            }
            try await WebhookReceiver.run(respond: { index in
                index == 0 ? (.tooManyRequests, [.retryAfter: "1"]) : (.ok, [:])
            }) { receiver, url in
                try await Roster.run(configure: Self.fast) { roster in
                    _ = try await Self.subscribe(roster, url: url)
                    _ = try await roster.createUser("a")
                    let started = ContinuousClock.now
                    let received = try await receiver.wait(for: 2)
                    #expect(received.count == 2)
                    #expect(ContinuousClock.now - started >= .seconds(1), "the retry waited for Retry-After, not the 200 ms schedule")
                }
            }
        }

        @Test("during a secret rotation both secrets sign; a subscription gets only its event types")
        func rotationAndTypes() async throws {
            try await WebhookReceiver.run { receiver, url in
                try await Roster.run(configure: Self.fast) { roster in
                    let (subscription, old) = try await Self.subscribe(roster, url: url, types: [.userDeactivated])
                    let new = try await withDatabase(url: roster.databaseURL, logger: TestPostgres.require().logger, secrets: TestSecrets.atRest) { db in
                        let tenant = try #require(try await TenantRepository(database: db).find("default")).id
                        return try #require(try await WebhookSubscriptions(database: db).rotateSecret(tenant: tenant, id: subscription.id, overlap: .seconds(3600), by: .system)).1
                    }
                    let alice = try await roster.createUser("alice")
                    try await roster.patch("/Users/\(alice)", #"[{"op":"replace","path":"active","value":false}]"#)
                    let received = try await receiver.wait(for: 1)
                    try await Task.sleep(for: .milliseconds(300))
                    #expect(await receiver.received.count == 1)
                    #expect(received.first?.type == "user.deactivated")
                    #expect(received.first?.signed(by: new) == true)
                    #expect(received.first?.signed(by: old) == true)
                    #expect(received.first?.signature.split(separator: " ").count == 2)
                }
            }
        }

        @Test("webhook health shows the dispatcher and each subscription's lag; metrics count deliveries by outcome and the worst lag")
        func healthAndMetrics() async throws {
            try await WebhookReceiver.run { receiver, url in
                try await Roster.run(configure: Self.fast) { roster in
                    let (good, _) = try await Self.subscribe(roster, url: url)
                    let (dead, _) = try await Self.subscribe(roster, url: "http://127.0.0.1:9/hook")
                    _ = try await roster.createUser("a")
                    _ = try await receiver.wait(for: 1)
                    _ = try await Self.subscription(roster, dead.id) { $0.0?.pausedAt != nil }
                    _ = try await Self.subscription(roster, good.id) { !$0.1.isEmpty }
                    let health = try await roster.send(.get, "/api/health").json
                    #expect(health["components"]?["webhooks"] == ["status": "running"])
                    let webhooks: JSONValue? = try await roster.admin(.get, "/health/webhooks").json
                    #expect(webhooks?["dispatcher"] == "running")
                    #expect(webhooks?["status"] == "paused")
                    let states = Dictionary(uniqueKeysWithValues: (webhooks?["subscriptions"]?.arrayValue ?? []).compactMap { item in
                        item["id"]?.stringValue.map { ($0, item["state"]?.stringValue ?? "") }
                    })
                    #expect(states == [good.id.uuidString.lowercased(): "active", dead.id.uuidString.lowercased(): "paused"])
                    #expect(health["status"] == "ok", "a receiver's outage does not make this instance unhealthy")

                    let scrape = try await roster.send(.get, "/metrics", headers: [.authorization: "Bearer \(roster.adminKey)"]).body
                    #expect(scrape.contains(#"roster_webhook_deliveries_total{outcome="succeeded"} 1"#), "\(scrape)")
                    #expect(scrape.contains(#"roster_webhook_deliveries_total{outcome="failed"} 1"#))
                    #expect(scrape.contains(#"roster_webhook_deliveries_total{outcome="retrying"} 2"#))
                    #expect(scrape.contains(#"roster_webhook_subscriptions{state="paused"} 1"#))
                    #expect(scrape.contains("roster_webhook_lag_seconds 0"))
                    #expect(scrape.contains("roster_events_committed 1"))
                    #expect(!scrape.contains(dead.id.uuidString.lowercased()), "no subscription id in a label")
                }
            }
        }

        @Test("a test event is sent at once, signed, logged with the deliveries; a failed one pauses nothing")
        func testEvent() async throws {
            try await WebhookReceiver.run { receiver, url in
                try await Roster.run(configure: Self.fast) { roster in
                    let created = try await roster.admin(.post, "/webhooks", body: #"{"url":"\#(url)"}"#)
                    let id = try #require(created.json["id"]?.stringValue)
                    let secret = try #require(created.json["secret"]?.stringValue.flatMap(WebhookSecret.init))
                    let reply = try await roster.admin(.post, "/webhooks/\(id)/test")
                    #expect(reply.status == .ok, "\(reply.body)")
                    #expect(reply.json["outcome"] == "succeeded")
                    #expect(reply.json["status_code"] == 204)
                    let received = try await receiver.wait(for: 1)
                    #expect(received.first?.type == "webhook.test")
                    #expect(received.first?.signed(by: secret) == true)
                    #expect(received.first?.json["data"]?["subscription_id"] == .string(id))
                    #expect(received.first?.id == reply.json["event_id"]?.stringValue)
                    let log = try await roster.admin(.get, "/webhooks/\(id)/deliveries").json["data"]?.arrayValue ?? []
                    #expect(log.map { $0["id"] } == [reply.json["id"]])

                    let dead = try await roster.admin(.post, "/webhooks", body: #"{"url":"http://127.0.0.1:9/hook"}"#).json["id"]?.stringValue ?? ""
                    let failed = try await roster.admin(.post, "/webhooks/\(dead)/test")
                    #expect(failed.json["outcome"] == "failed")
                    #expect(failed.json["status_code"] == nil)
                    #expect(failed.json["error"]?.stringValue?.isEmpty == false)
                    #expect(try await roster.admin(.get, "/webhooks/\(dead)").json["paused_at"] == nil)
                    try await roster.admin(.post, "/webhooks/\(UUID())/test").expectAdminError(.notFound)
                }
            }
        }

        @Test("disabling a subscription stops a delivery already under way within an event")
        func disableMidStream() async throws {
            try await WebhookReceiver.run(respond: { _ in
                try? await Task.sleep(for: .milliseconds(50))
                return (.noContent, [:])
            }) { receiver, url in
                try await Roster.run(configure: Self.fast) { roster in
                    let created = try await roster.admin(.post, "/webhooks", body: #"{"url":"\#(url)"}"#)
                    let id = try #require(created.json["id"]?.stringValue)
                    for i in 0..<30 { _ = try await roster.createUser("u\(i)") }
                    _ = try await receiver.wait(for: 3)
                    #expect(try await roster.admin(.patch, "/webhooks/\(id)", body: #"{"enabled":false}"#).status == .ok)
                    let atDisable = await receiver.received.count
                    try await Task.sleep(for: .milliseconds(800))
                    let after = await receiver.received.count
                    #expect(after <= atDisable + 1, "\(after) deliveries after disabling at \(atDisable)")
                    #expect(after < 30)
                    // Enabled again, it carries on from its position: every event, in order.
                    #expect(try await roster.admin(.patch, "/webhooks/\(id)", body: #"{"enabled":true}"#).status == .ok)
                    let all = try await receiver.wait(for: 31, timeout: .seconds(10))
                    let sequences = all.compactMap(\.sequence)
                    #expect(Array(Set(sequences)).sorted() == Array(1...30))
                    #expect(sequences == sequences.sorted())
                }
            }
        }

        @Test("a committed change wakes the dispatcher at once (LISTEN/NOTIFY), without waiting for its poll")
        func notifyWakes() async throws {
            try await WebhookReceiver.run { receiver, url in
                try await Roster.run(configure: {
                    Self.fast(&$0)
                    $0.webhooks.pollInterval = .seconds(60)
                }) { roster in
                    _ = try await Self.subscribe(roster, url: url)
                    // Let the dispatcher finish its first look, so only a notification can wake it now.
                    try await Task.sleep(for: .milliseconds(500))
                    _ = try await roster.createUser("a")
                    let received = try await receiver.wait(for: 1, timeout: .seconds(15))
                    #expect(received.count == 1, "delivered only by the 60 s poll: the notification did not wake the dispatcher")
                }
            }
        }

        @Test("an event committed by a process that died before numbering it is numbered and delivered by the poll")
        func pollFallback() async throws {
            try await WebhookReceiver.run { receiver, url in
                try await Roster.run(configure: Self.fast) { roster in
                    _ = try await Self.subscribe(roster, url: url)
                    // Committed from outside the server (no in-process signal, no stamp, no NOTIFY): as a writer
                    // that was killed right after its commit leaves it.
                    try await withDatabase(url: roster.databaseURL, logger: TestPostgres.require().logger, secrets: TestSecrets.atRest) { db in
                        let tenant = try #require(try await TenantRepository(database: db).find("default")).id
                        try await db.query(
                            """
                            INSERT INTO events (tenant_id, id, type, resource_type, resource_id, resource_version, actor_type,
                                                transaction_id, occurred_at, data)
                            VALUES (\(tenant), gen_random_uuid(), 'user.created', 'User', gen_random_uuid(), 1, 'system',
                                    gen_random_uuid(), now(), '{}')
                            """)
                    }
                    let received = try await receiver.wait(for: 1, timeout: .seconds(15))
                    #expect(received.first?.type == "user.created")
                }
            }
        }
    }
}
