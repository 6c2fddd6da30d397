import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Health without a usable database")
    struct HealthTests {
        /// Runs a Roster on `databaseURL` without preparing anything in it.
        /// A generous budget and timeout by default: a loaded test machine must not turn "ok" into "degraded" or "unhealthy".
        func withBareRoster(
            databaseURL: String, healthTimeout: Int = 60_000, _ body: @Sendable (any TestClientProtocol) async throws -> Void
        ) async throws {
            var configuration = RosterConfiguration(
                databaseURL: databaseURL, logLevel: .critical, databaseMaxConnections: 2, healthLatencyBudgetMilliseconds: 60_000)
            configuration.healthTimeoutMilliseconds = healthTimeout
            configuration.secrets = TestSecrets.atRest
            var logger = try TestPostgres.require().logger
            logger.logLevel = .critical
            try await buildApplication(configuration, logger: logger).test(.router, body)
        }

        @Test("health is 503 naming the database when it cannot be reached; live still answers 200")
        func databaseDown() async throws {
            // A port nothing listens on: bind one, then release it.
            let port = try #require(FreePort.find())
            try await withBareRoster(databaseURL: "postgres://roster:x@127.0.0.1:\(port)/roster?sslmode=disable", healthTimeout: 3000) { client in
                try await client.execute(uri: "/api/health", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    let json = try JSONValue.parse(Array(String(buffer: response.body).utf8))
                    #expect(json["status"] == "unhealthy")
                    #expect(json["components"]?["database"]?["status"] == "unavailable")
                }
                try await client.execute(uri: "/api/health/ready", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(String(buffer: response.body).contains("not_ready"))
                }
                try await client.execute(uri: "/api/health/live", method: .get) { response in
                    #expect(response.status == .ok)
                }
            }
        }

        @Test("with several hosts and none a primary, ready says no_primary and a request is a 503 with Retry-After, not a wait")
        func noPrimary() async throws {
            let postgres = try TestPostgres.require()
            let url = try await postgres.freshDatabase()
            let database = try #require(try DatabaseURL(url).database)
            // A read-only server stands in for a standby: read-write takes neither it nor a host that refuses connections.
            try await withDatabase(url: url, logger: postgres.logger) { db in
                try await db.query(PostgresQuery(unsafeSQL: "ALTER DATABASE \(database) SET default_transaction_read_only = on"))
            }
            let own = try DatabaseURL(url).hosts[0].description
            let dead = "127.0.0.1:\(try #require(FreePort.find()))"
            let hosts = url.replacingOccurrences(of: "@\(own)/", with: "@\(dead),\(own)/") + "&target_session_attrs=read-write"
            try await withBareRoster(databaseURL: hosts, healthTimeout: 3000) { client in
                try await client.execute(uri: "/api/health/ready", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    let json = try JSONValue.parse(Array(String(buffer: response.body).utf8))
                    #expect(json["reasons"] == ["database: no_primary"])
                }
                try await client.execute(uri: "/api/health", method: .get) { response in
                    let json = try JSONValue.parse(Array(String(buffer: response.body).utf8))
                    #expect(json["components"]?["database"]?["status"] == "no_primary")
                }
                let start = ContinuousClock.now
                try await client.execute(
                    uri: "/scim/v2/Users", method: .get, headers: [.authorization: "Bearer scim_" + String(repeating: "A", count: 43)]
                ) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.headers[.retryAfter] == "2")
                }
                #expect(ContinuousClock.now - start < .seconds(30))
            }
        }

        @Test("health is 503 with pending migrations on an unmigrated database, then ok once migrated")
        func pendingMigrations() async throws {
            let postgres = try TestPostgres.require()
            let url = try await postgres.emptyDatabase()
            try await withBareRoster(databaseURL: url) { client in
                try await client.execute(uri: "/api/health", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    let json = try JSONValue.parse(Array(String(buffer: response.body).utf8))
                    #expect(json["components"]?["database"]?["status"] == "ok")
                    #expect(json["status"] == "unhealthy")
                    #expect(json["components"]?["migrations"]?["status"] == "pending")
                }
                try await client.execute(uri: "/api/health/ready", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                }
                let applied = try await migrateDatabase(url: url, logger: postgres.logger)
                #expect(!applied.isEmpty)
                try await client.execute(uri: "/api/health", method: .get) { response in
                    #expect(response.status == .ok)
                }
                try await client.execute(uri: "/api/health/ready", method: .get) { response in
                    #expect(response.status == .ok)
                }
            }
        }

        @Test("a database slower than the latency budget makes health degraded: still 200, and still ready")
        func degraded() async throws {
            let postgres = try TestPostgres.require()
            let url = try await postgres.freshDatabase()
            var logger = postgres.logger
            logger.logLevel = .critical
            // A zero budget: every real query is "slow".
            var configuration = RosterConfiguration(databaseURL: url, logLevel: .critical, databaseMaxConnections: 2, healthLatencyBudgetMilliseconds: 0)
            configuration.healthTimeoutMilliseconds = 60_000
            configuration.secrets = TestSecrets.atRest
            try await buildApplication(configuration, logger: logger).test(.router) { client in
                try await client.execute(uri: "/api/health", method: .get) { response in
                    #expect(response.status == .ok)
                    let json = try JSONValue.parse(Array(String(buffer: response.body).utf8))
                    #expect(json["status"] == "degraded")
                    #expect(json["components"]?["database"]?["status"] == "slow")
                }
                try await client.execute(uri: "/api/health/ready", method: .get) { response in
                    #expect(response.status == .ok)
                }
            }
        }
    }
}

enum FreePort {
    /// A TCP port on 127.0.0.1 that was free a moment ago.
    static func find() -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { return nil }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
