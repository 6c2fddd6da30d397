import Foundation
import Testing

@testable import roster

extension CLISuite {
    @Suite("roster healthcheck: the container's health check, without curl")
    struct HealthcheckCommandTests {
        @Test("roster healthcheck exits 0 against a live roster serve, on --url and on ROSTER_PORT")
        func healthcheckLive() async throws {
            let url = try await freshDatabase()
            try await SecretsCommandTests.withServe(url: url) { port in
                let byURL = await cli(["healthcheck", "--url", "http://127.0.0.1:\(port)/api/health/live"], database: nil)
                #expect(byURL.succeeded && byURL.exitCode == 0, "\(byURL.everything)")
                let byPort = await cli(["healthcheck"], database: nil, environment: ["ROSTER_PORT": String(port)])
                #expect(byPort.succeeded, "\(byPort.everything)")
                let missing = await cli(["healthcheck", "--url", "http://127.0.0.1:\(port)/api/no-such-route"], database: nil)
                #expect(missing.exitCode == 1, "a 404 is not healthy: \(missing.everything)")
            }
        }

        @Test("roster healthcheck exits 1 when nothing listens")
        func healthcheckDown() async throws {
            let port = try FlagTests.freePort()
            let result = await cli(["healthcheck", "--url", "http://127.0.0.1:\(port)/api/health/live", "--timeout", "2"], database: nil)
            #expect(result.exitCode == 1, "\(result.everything)")
            #expect(result.everything.contains("unhealthy"), "\(result.everything)")
        }
    }
}
