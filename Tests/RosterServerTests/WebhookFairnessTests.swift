import Foundation
import Hummingbird
import PostgresNIO
@testable import RosterFeed
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Webhook delivery: workers shared fairly across tenants")
    struct WebhookFairnessTests {
        /// A subscription of the tenant named `tenant` to `url`, straight through the store.
        static func subscribe(_ roster: Roster, tenant: String = "default", url: String) async throws -> WebhookSubscription {
            try await withDatabase(url: roster.databaseURL, logger: TestPostgres.require().logger, secrets: TestSecrets.atRest) { db in
                let id = try #require(try await TenantRepository(database: db).find(tenant)).id
                return try await WebhookSubscriptions(database: db).create(tenant: id, url: url, eventTypes: nil, description: "test", by: .system).0
            }
        }

        /// Four workers, two per tenant, a 5 s timeout, and a failed attempt retried at once (so a hung
        /// subscription is always due again and competes for a worker).
        static func small(_ configuration: inout RosterConfiguration) {
            configuration.webhooks.concurrency = 4
            configuration.webhooks.perTenantConcurrency = 2
            configuration.webhooks.timeout = .seconds(5)
            configuration.webhooks.schedule = RetrySchedule(delays: Array(repeating: .zero, count: 50), jitter: 0)
        }

        @Test("a tenant whose receivers never answer holds only its share of the workers: another tenant's event goes out at once")
        func hangingTenant() async throws {
            try await HangingReceiver.run { hanging, hangingURL in
                try await WebhookReceiver.run { receiver, url in
                    try await Roster.run(configure: Self.small) { roster in
                        // Tenant A (the default one): more subscriptions than the process has workers, none answering.
                        for _ in 0..<6 { _ = try await Self.subscribe(roster, url: hangingURL) }
                        let b = try await roster.otherTenant("tenant-b")
                        _ = try await Self.subscribe(roster, tenant: "tenant-b", url: url)
                        _ = try await roster.createUser("a-user")
                        #expect(try await hanging.waitUntil(open: 2), "tenant A's deliveries started")
                        // Every worker the dispatcher would give tenant A is taken by now (A's attempts last 5 s).
                        try await Task.sleep(for: .milliseconds(300))

                        let started = ContinuousClock.now
                        let created = try await roster.scim(
                            .post, "/Users", token: b.token,
                            body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"b-user"}"#)
                        #expect(created.status == .created)
                        let received = try await receiver.wait(for: 1, timeout: .seconds(20))
                        let waited = ContinuousClock.now - started
                        print("Tenant B's delivery while tenant A's receivers hang: \(waited) (A's attempts time out after 5 s)")
                        #expect(received.count == 1)
                        #expect(received.first?.type == "user.created")
                        #expect(waited < .seconds(2), "tenant B waited \(waited) for a worker tenant A's hung receivers held")
                        #expect(hanging.peak <= 2, "tenant A held \(hanging.peak) workers at once, beyond its 2")
                    }
                }
            }
        }

        @Test("a receiver that never answers fails the attempt at the timeout and frees its worker for the next subscription")
        func hangingAttemptEnds() async throws {
            try await HangingReceiver.run { hanging, hangingURL in
                try await WebhookReceiver.run { receiver, url in
                    try await Roster.run(configure: {
                        $0.webhooks.concurrency = 1
                        $0.webhooks.timeout = .seconds(2)
                        $0.webhooks.schedule = RetrySchedule(delays: [.zero, .seconds(60)], jitter: 0)
                    }) { roster in
                        // One worker; the hung subscription is first in line, the healthy one waits behind it.
                        let hung = try await Self.subscribe(roster, url: hangingURL)
                        _ = try await Self.subscribe(roster, url: url)
                        let started = ContinuousClock.now
                        _ = try await roster.createUser("a")
                        let received = try await receiver.wait(for: 1, timeout: .seconds(30))
                        let waited = ContinuousClock.now - started
                        #expect(received.count == 1, "the worker was not freed after the hung attempt")
                        #expect(hanging.accepted == 1)
                        #expect(waited < .seconds(12), "\(waited)")
                        let (_, deliveries) = try await WebhookDeliveryTests.subscription(roster, hung.id) { !$0.1.isEmpty }
                        #expect(deliveries.map(\.outcome) == [.retrying])
                        #expect(deliveries.first?.error == "timed out")
                        #expect((2000..<6000).contains(deliveries.first?.latencyMilliseconds ?? 0), "\(deliveries.first?.latencyMilliseconds ?? 0) ms")
                        for _ in 0..<100 where hanging.open > 0 { try await Task.sleep(for: .milliseconds(20)) }
                        #expect(hanging.open == 0, "the sender closed the hung connection")
                    }
                }
            }
        }

        @Test("a claim spreads free workers across tenants, fewest busy first, and takes none of a tenant at its cap")
        func claimSpreads() async throws {
            let postgres = try TestPostgres.require()
            let url = try await postgres.freshDatabase()
            try await withDatabase(url: url, logger: postgres.logger, secrets: TestSecrets.atRest) { db in
                var tenants: [UUID] = []
                for name in ["a", "b", "c"] {
                    let tenant = try await TenantRepository(database: db).create(name: "tenant-\(name)", by: .system).id
                    tenants.append(tenant)
                    // Ten subscriptions, each with an event due.
                    try await db.query(
                        """
                        INSERT INTO webhook_subscriptions (tenant_id, id, url, secret, position, next_attempt_at)
                        SELECT \(tenant), gen_random_uuid(), 'http://127.0.0.1:9/hook', \(WebhookSecret.generate().text), 0,
                               now() - make_interval(secs => n)
                        FROM generate_series(1, 10) n
                        """)
                    try await db.query(
                        """
                        WITH numbers AS (
                            INSERT INTO event_sequences AS s (tenant_id, last_seq) VALUES (\(tenant), 1)
                            ON CONFLICT (tenant_id) DO UPDATE SET last_seq = s.last_seq + 1 RETURNING last_seq)
                        INSERT INTO events (tenant_id, seq, id, type, resource_type, resource_id, resource_version, actor_type,
                                            transaction_id, occurred_at, data)
                        SELECT \(tenant), last_seq, gen_random_uuid(), 'user.created', 'User', gen_random_uuid(), 1, 'system',
                               gen_random_uuid(), now(), '{}' FROM numbers
                        """)
                }
                // Numbered here rather than by a stamp: their days recorded as a stamp records them (0023).
                try await db.query("SELECT record_event_days()")
                // Sealed as a start seals secrets written in plaintext.
                _ = try await StoredSecrets(database: db).sealPlaintext(with: TestSecrets.keyring)
                let (a, b, c) = (tenants[0], tenants[1], tenants[2])
                var configuration = DispatcherConfiguration()
                configuration.concurrency = 16
                configuration.perTenantConcurrency = 4
                let dispatcher = WebhookDispatcher(database: db, configuration: configuration, logger: postgres.logger)
                func counts(_ claimed: [WebhookDispatcher.Claimed]) -> [UUID: Int] {
                    claimed.reduce(into: [:]) { $0[$1.tenant, default: 0] += 1 }
                }

                // Nothing running: six free workers go two to each tenant.
                #expect(counts(try await dispatcher.claim(limit: 6, busy: [:])) == [a: 2, b: 2, c: 2])
                // A at its cap gets none; B and C get up to theirs, even with more free workers.
                #expect(counts(try await dispatcher.claim(limit: 16, busy: [a: 4, b: 2])) == [b: 2, c: 4])
                // Each next worker goes to the tenant that would then hold the fewest: C's 1st, A's 2nd, C's 2nd.
                #expect(counts(try await dispatcher.claim(limit: 3, busy: [a: 1, b: 3])) == [a: 1, c: 2])
                // Leases already held are not taken again: C has two subscriptions left, A and B more than their cap.
                #expect(counts(try await dispatcher.claim(limit: 16, busy: [:])) == [a: 4, b: 4, c: 2])
            }
        }
    }
}
