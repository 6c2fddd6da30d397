import Foundation
import PostgresNIO
@testable import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Tenant pool share: one tenant's slow requests cannot take the others' connections")
    struct TenantShareTests {
        @Test("slots: a tenant at its share waits (then 429s at the deadline) while another tenant runs at once")
        func slots() async throws {
            let slots = TenantSlots(perTenant: 2, maxWait: .milliseconds(300))
            let a = UUID(), b = UUID()
            let (release, hold) = AsyncStream.makeStream(of: Void.self)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<2 {
                    group.addTask { try await slots.run(tenant: a) { for await _ in release {} } }
                }
                while slots.running(a) < 2 { try await Task.sleep(for: .milliseconds(5)) }
                // B is not behind A.
                let started = ContinuousClock.now
                try await slots.run(tenant: b) {}
                #expect(ContinuousClock.now - started < .milliseconds(250))
                // A's third request waits for its deadline and gives up.
                await #expect(throws: TenantSlots.Full.self) { try await slots.run(tenant: a) {} }
                // One that waits while a slot frees gets it, in order.
                async let third: Void = slots.run(tenant: a) {}
                try await Task.sleep(for: .milliseconds(50))
                hold.finish()
                try await third
                try await group.waitForAll()
            }
            #expect(slots.running(a) == 0 && slots.running(b) == 0)
        }

        @Test("slots: cancelled waiters leave no slot taken")
        func cancelledWaiters() async throws {
            let slots = TenantSlots(perTenant: 1, maxWait: .seconds(30))
            let tenant = UUID()
            let (release, hold) = AsyncStream.makeStream(of: Void.self)
            async let holder: Void = slots.run(tenant: tenant) { for await _ in release {} }
            while slots.running(tenant) < 1 { try await Task.sleep(for: .milliseconds(5)) }
            let waiters = (0..<5).map { _ in Task { try await slots.run(tenant: tenant) {} } }
            try await Task.sleep(for: .milliseconds(50))
            for waiter in waiters { waiter.cancel() }
            for waiter in waiters { _ = await waiter.result }
            hold.finish()
            try await holder
            #expect(slots.running(tenant) == 0)
            try await slots.run(tenant: tenant) {}  // the slot is free again at once
        }

        /// Inserts `count` users of `tenant` straight into the database.
        static func seed(_ count: Int, tenant: String, url: String) async throws {
            try await withDatabase(url: url, logger: TestPostgres.require().logger) { db in
                try await db.query(
                    """
                    INSERT INTO users (tenant_id, id, user_name, created, last_modified, body)
                    SELECT t.id, gen_random_uuid(), 'bulk-' || i, now(), now(),
                           jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User'),
                                              'userName', 'bulk-' || i, 'name', jsonb_build_object('familyName', 'Family ' || i))
                    FROM generate_series(1, \(count)) AS i, (SELECT id FROM tenants WHERE name = \(tenant)) AS t
                    """)
                try await db.query("ANALYZE users")
            }
        }

        static func median(_ values: [Duration]) -> Duration { values.sorted()[values.count / 2] }

        static func milliseconds(_ duration: Duration) -> Int {
            Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        }

        @Test("tenant A's parallel slow filters hold at most its share; tenant B's GET by id keeps answering")
        func fairness() async throws {
            try await Roster.run(configure: {
                $0.databaseMaxConnections = 4
                $0.limits.tenantPoolSharePercent = 50  // two connections per tenant
                $0.rateLimits.scim = nil
            }) { roster in
                try await Self.seed(60_000, tenant: "default", url: roster.databaseURL)
                let other = try await roster.otherTenant("bravo")
                let bravo = try await roster.createUser("bob", token: other.token)
                // Not indexed: every request reads all 60 000 of A's rows.
                let slow = "/Users?count=5&filter=" + #"name.familyName co "nobody""#.urlQueryEncoded
                let deadline = ContinuousClock.now + .seconds(4)
                let (aTimes, bTimes) = try await withThrowingTaskGroup(of: [Duration].self) { group in
                    for _ in 0..<12 {
                        group.addTask {
                            var times: [Duration] = []
                            while ContinuousClock.now < deadline {
                                let started = ContinuousClock.now
                                let reply = try await roster.scim(.get, slow)
                                #expect(reply.status == .ok || reply.status == .tooManyRequests, "\(reply.body)")
                                if reply.status == .ok { times.append(ContinuousClock.now - started) }
                            }
                            return times
                        }
                    }
                    try await Task.sleep(for: .milliseconds(500))  // A's requests fill the pool first
                    var bTimes: [Duration] = []
                    while ContinuousClock.now < deadline {
                        let started = ContinuousClock.now
                        let reply = try await roster.scim(.get, "/Users/\(bravo)", token: other.token)
                        #expect(reply.status == .ok, "\(reply.body)")
                        bTimes.append(ContinuousClock.now - started)
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    var aTimes: [Duration] = []
                    for try await times in group { aTimes += times }
                    return (aTimes, bTimes)
                }
                try #require(!aTimes.isEmpty && !bTimes.isEmpty)
                let a = Self.median(aTimes), b = Self.median(bTimes)
                print("tenant share: A's slow filter median \(Self.milliseconds(a)) ms over \(aTimes.count); B's GET by id median \(Self.milliseconds(b)) ms, max \(Self.milliseconds(bTimes.max()!)) ms over \(bTimes.count)")
                // Without a share, B's GET queues behind A's requests for the pool and takes about as long as they do.
                #expect(b * 4 < a, "B's GET by id (median \(b)) should not wait behind A's filters (median \(a))")
            }
        }
    }
}
