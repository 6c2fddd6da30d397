import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import RosterAuth
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite.MetricsTests {
    /// The one sample of `name` with exactly these labels; nil when the scrape has none.
    func gauge(_ text: String, _ name: String, _ labels: String = "") -> Double? {
        let matching = samples(text, name).filter { $0.labels == (labels.isEmpty ? name : "\(name){\(labels)}") }
        return matching.count == 1 ? matching[0].value : nil
    }

    func scrape(_ roster: Roster) async throws -> String {
        let reply = try await roster.send(.get, "/metrics", headers: [.authorization: "Bearer \(roster.adminKey)"])
        #expect(reply.status == .ok, "\(reply.body)")
        return reply.body
    }

    @Test("a transaction waiting on a lock counts as in use while it waits; once it ends its connection is idle")
    func poolInUseAndIdle() async throws {
        // Without the webhook dispatcher, whose LISTEN connection is always in use, and with the settings and
        // rate-limit pollers asleep, whose queries would count while a scrape reads the gauge.
        try await Roster.run(configure: {
            $0.webhooksEnabled = false
            $0.settingsRefreshInterval = .seconds(3600)
            $0.rateLimits.refreshInterval = .seconds(3600)
            $0.limits.scimStatementTimeout = .seconds(300)  // the PATCH waits on the lock for as long as the scrapes take
        }) { roster in
            let id = try await roster.createUser("pool.user")
            let locked = AsyncStream.makeStream(of: Void.self)
            let release = AsyncStream.makeStream(of: Void.self)
            try await withDatabase(url: roster.databaseURL, logger: try TestPostgres.require().logger) { outside in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    // Another client locks the user's row, so Roster's PATCH transaction waits, holding its connection.
                    group.addTask {
                        try await outside.transaction { connection in
                            try await connection.query("SELECT 1 FROM users WHERE id = \(try #require(UUID(uuidString: id))) FOR UPDATE", logger: outside.logger)
                            locked.continuation.yield()
                            for await _ in release.stream { break }
                        }
                    }
                    defer { release.continuation.finish() }
                    for await _ in locked.stream { break }
                    group.addTask {
                        let reply = try await roster.patch("/Users/\(id)", #"[{"op":"replace","path":"displayName","value":"Waited"}]"#)
                        #expect(reply.status == .ok, "\(reply.body)")
                    }
                    var inUse: Double?
                    let deadline = ContinuousClock.now + .seconds(30)
                    // Exactly 1 once the PATCH waits: a background write (the provisioning log's batch of these very
                    // requests) may hold a second connection for a moment, so a scrape seeing 2 looks again.
                    repeat {
                        inUse = gauge(try await scrape(roster), "roster_db_pool_connections", #"state="in_use""#)
                        if inUse == 1 { break }
                        try await Task.sleep(for: .milliseconds(20))
                    } while ContinuousClock.now < deadline
                    #expect(inUse == 1, "the waiting PATCH is the one connection in use; the scrape's own is not counted")
                    release.continuation.finish()
                    try await group.waitForAll()
                }
            }
            // Background work (the provisioning log's batched writes of these very requests) may hold a connection for
            // a moment: the waiting PATCH's is released when its transaction ends, so in use comes back to 0.
            var after = try await scrape(roster)
            let settled = ContinuousClock.now + .seconds(10)
            while gauge(after, "roster_db_pool_connections", #"state="in_use""#) != 0, ContinuousClock.now < settled {
                try await Task.sleep(for: .milliseconds(100))
                after = try await scrape(roster)
            }
            #expect(gauge(after, "roster_db_pool_connections", #"state="in_use""#) == 0)
            #expect(try #require(gauge(after, "roster_db_pool_connections", #"state="idle""#)) >= 1)
            #expect(gauge(after, "roster_db_pool_max_connections") == 4)
        }
    }

    @Test("with the database down /metrics still answers: in_use and the maximum, and no idle sample rather than a stale one")
    func poolDatabaseDown() async throws {
        let port = try #require(FreePort.find())
        let bootstrap = Secret.generate(.adminKey).reveal()
        var configuration = RosterConfiguration(
            databaseURL: "postgres://roster:x@127.0.0.1:\(port)/roster?sslmode=disable", adminKey: BootstrapAdminKey(bootstrap),
            logLevel: .critical, databaseMaxConnections: 3, healthLatencyBudgetMilliseconds: 60_000)
        configuration.healthTimeoutMilliseconds = 500
        configuration.secrets = TestSecrets.atRest
        var logger = try TestPostgres.require().logger
        logger.logLevel = .critical
        try await buildApplication(configuration, logger: logger).test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(bootstrap)"]) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(gauge(text, "roster_db_pool_connections", #"state="in_use""#) == 0)
                #expect(gauge(text, "roster_db_pool_max_connections") == 3)
                #expect(!text.contains(#"state="idle""#), "\(text)")
            }
        }
    }
}
