import Foundation
import HTTPTypes
import PostgresNIO
import RosterAuth
@testable import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Synchronization
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

        static func median(_ values: [Duration]) -> Duration { values.sorted()[values.count / 2] }

        static func milliseconds(_ duration: Duration) -> Int {
            Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        }

        /// Tenant A sends 12 filters at once, each held by a lock on `users` (so the test does not depend on how
        /// fast this machine scans), while tenant B reads a group, which needs only `groups`. The lock is released
        /// when B's reads are done, or after `cap`. Returns B's latencies and whether B was done while A's
        /// filters were all still held: the order of events, which a loaded machine slows but cannot change.
        static func bWhileABlocks(share: Int, cap: Duration) async throws -> (times: [Duration], doneWhileHeld: Bool) {
            let measured = Mutex<([Duration], Bool)>(([], false))
            try await Roster.run(configure: {
                $0.databaseMaxConnections = 4
                $0.limits.tenantPoolSharePercent = share
                $0.limits.scimStatementTimeout = .seconds(300)  // A's filters wait for the lock, however long
                $0.rateLimits.scim = nil
                $0.webhooksEnabled = false  // its LISTEN would hold one of the four
            }) { roster in
                let other = try await roster.otherTenant("bravo")
                let created = try await roster.scim(.post, "/Groups", token: other.token, body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Bravo"}"#)
                let bravo = try #require(created.json["id"]?.stringValue)
                let slow = "/Users?filter=" + #"name.familyName co "nobody""#.urlQueryEncoded
                let held = HeldFlag()
                let (taken, signal) = AsyncStream.makeStream(of: Void.self)
                let (done, finish) = AsyncStream.makeStream(of: Void.self)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try await withDatabase(url: roster.databaseURL, logger: TestPostgres.require().logger) { db in
                            try await db.transaction { connection in
                                try await connection.query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE", logger: db.logger)
                                signal.yield()
                                // Released when B is done, or at the cap.
                                await withTaskGroup(of: Void.self) { wait in
                                    wait.addTask { for await _ in done {} }
                                    wait.addTask { try? await Task.sleep(for: cap) }
                                    await wait.next()
                                    wait.cancelAll()
                                }
                                held.value.store(false, ordering: .sequentiallyConsistent)
                            }
                        }
                    }
                    for await _ in taken { break }
                    for _ in 0..<12 {
                        group.addTask {
                            let reply = try await roster.scim(.get, slow)
                            #expect(reply.status == .ok, "\(reply.body)")
                        }
                    }
                    try await Task.sleep(for: .milliseconds(300))  // A's requests take the pool first
                    var times: [Duration] = []
                    for _ in 0..<5 {
                        let started = ContinuousClock.now
                        let reply = try await roster.scim(.get, "/Groups/\(bravo)?excludedAttributes=members", token: other.token)
                        #expect(reply.status == .ok, "\(reply.body)")
                        times.append(ContinuousClock.now - started)
                    }
                    let whileHeld = held.value.load(ordering: .sequentiallyConsistent)
                    finish.finish()
                    try await group.waitForAll()
                    measured.withLock { $0 = (times, whileHeld) }
                }
            }
            return measured.withLock { $0 }
        }

        @Test("tenant A's parallel slow filters hold at most its share; tenant B's GET keeps answering")
        func fairness() async throws {
            let (times, doneWhileHeld) = try await Self.bWhileABlocks(share: 50, cap: .seconds(120))  // two of the four connections per tenant
            print("tenant share: B's GET median \(Self.milliseconds(Self.median(times))) ms, max \(Self.milliseconds(times.max()!)) ms while A's 12 filters wait")
            #expect(doneWhileHeld, "B's reads finished while all of A's filters still held their connections")
        }

        @Test("without a share (100 %), B waits behind A: what the share prevents")
        func withoutShare() async throws {
            let (times, doneWhileHeld) = try await Self.bWhileABlocks(share: 100, cap: .seconds(2))
            print("no tenant share: B's GET median \(Self.milliseconds(Self.median(times))) ms, max \(Self.milliseconds(times.max()!)) ms while A's 12 filters wait")
            #expect(!doneWhileHeld, "B could not get a connection until A's filters were released")
        }
    }
}

/// Whether the test's lock is still held, shared with the task holding it.
private final class HeldFlag: Sendable {
    let value = Atomic<Bool>(true)
}
