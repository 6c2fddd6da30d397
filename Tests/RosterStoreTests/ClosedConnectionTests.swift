import Foundation
import PostgresNIO
@testable import RosterStore
import RosterTestSupport
import Synchronization
import Testing

extension StoreSuite {
    @Suite("Statements on a connection that closed")
    struct ClosedConnectionTests {
        /// `work`'s outcome, or nil if it has not finished within `limit`: the check itself must not wait for ever
        /// on what it tests (a lost statement would hold a task group open), so the work runs in a task left behind.
        static func within<T: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> Result<T, any Error>? {
            let outcome = Mutex<Result<T, any Error>?>(nil)
            let task = Task {
                do {
                    let value = try await work()
                    outcome.withLock { $0 = .success(value) }
                } catch {
                    outcome.withLock { $0 = .failure(error) }
                }
            }
            let deadline = ContinuousClock.now + limit
            while ContinuousClock.now < deadline {
                if let done = outcome.withLock({ $0 }) { return done }
                try await Task.sleep(for: .milliseconds(20))
            }
            _ = task
            return nil
        }

        @Test("a body still waiting when its connection closes is given up after the grace; one that ends within it keeps its own result")
        func givenUp() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            let configuration = try DatabaseURL(url).connectionConfiguration(applicationName: "roster-test")
            let logger = try TestPostgres.require().logger
            for finishesWithinGrace in [false, true] {
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
                let outcome = try await Self.within(.seconds(15)) {
                    try await ClosedConnections.run(on: connection, grace: .milliseconds(300)) { connection in
                        try await connection.close()
                        guard finishesWithinGrace else {
                            // What PostgresNIO 1.33.2 does to a statement written after the close: it never answers.
                            let (never, keptOpen) = AsyncStream.makeStream(of: Void.self)
                            for await _ in never {}
                            keptOpen.finish()
                            return 0
                        }
                        try await Task.sleep(for: .milliseconds(50))
                        return 7
                    }
                }
                guard let outcome else {
                    Issue.record("a body on a closed connection was still waited for after 15 s")
                    continue
                }
                if finishesWithinGrace {
                    #expect(try outcome.get() == 7)
                } else {
                    #expect(throws: ConnectionLost.self) { try outcome.get() }
                }
            }
        }

        @Test("a lost statement becomes StoreError.unavailable, and counts as a sign of failover")
        func lostIsUnavailable() {
            #expect(StoreError.translate(ConnectionLost()) as? StoreError == .unavailable(ConnectionLost().description))
            #expect(DatabaseHosts.suggestsFailover(ConnectionLost()))
        }

        @Test("one callback per connection however many leases watch it; gone when it closes; a late watcher is told at once")
        func closeWatch() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            let configuration = try DatabaseURL(url).connectionConfiguration(applicationName: "roster-test")
            let logger = try TestPostgres.require().logger
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
            let watch = ClosedConnections.CloseWatch()
            let told = Atomic<Int>(0)
            for _ in 0..<100 {
                let number = watch.add(connection) { told.add(1, ordering: .relaxed) }
                watch.remove(connection, number)
            }
            #expect(watch.connections == 1)
            _ = watch.add(connection) { told.add(1, ordering: .relaxed) }
            _ = watch.add(connection) { told.add(1, ordering: .relaxed) }
            try await connection.close()
            let deadline = ContinuousClock.now + .seconds(10)
            while (told.load(ordering: .relaxed) < 2 || watch.connections > 0) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(told.load(ordering: .relaxed) == 2, "the two still watching are told; the hundred that stopped are not")
            #expect(watch.connections == 0)
            _ = watch.add(connection) { told.add(1, ordering: .relaxed) }
            while told.load(ordering: .relaxed) < 3 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(told.load(ordering: .relaxed) == 3)
        }

        @Test("an outcome gives the first result, whether it came before or after the wait began")
        func outcome() async throws {
            let early = ClosedConnections.Outcome<Int>()
            early.finish(.success(1))
            early.finish(.success(2))
            #expect(try await early.value() == 1)
            let late = ClosedConnections.Outcome<Int>()
            let waiting = Task { try await late.value() }
            try await Task.sleep(for: .milliseconds(50))
            late.finish(.failure(ConnectionLost()))
            late.finish(.success(3))
            await #expect(throws: ConnectionLost.self) { try await waiting.value }
        }
    }
}
