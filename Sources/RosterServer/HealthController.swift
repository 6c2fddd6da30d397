import Foundation
import Hummingbird
import RosterStore
import SCIM

/// `/api/health` (database and migrations, 503 when the database is down) and `/api/health/live`.
struct HealthController {
    let database: RosterDatabase
    let migrator: Migrator

    func addRoutes<Context: RequestContext>(to group: RouterGroup<Context>) {
        group.get("health/live") { _, _ in AdminResponse.json(.ok, ["status": "ok"]) }
        group.get("health") { _, _ in await check() }
    }

    func check() async -> Response {
        let clock = ContinuousClock()
        let start = clock.now
        var components: [String: JSONValue] = [:]
        var healthy = true
        do {
            try await withTimeout(.seconds(3)) {
                try await database.query("SELECT 1")
            }
            let elapsed = clock.now - start
            let milliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
            components["database"] = ["status": "ok", "latency_ms": .decimal((milliseconds * 100).rounded() / 100)]
            do {
                let status = try await migrator.status(database)
                components["migrations"] = [
                    "status": .string(status.pending == 0 ? "current" : "pending"),
                    "applied": .integer(status.applied), "pending": .integer(status.pending),
                ]
                if status.pending > 0 { healthy = false }
            } catch {
                healthy = false
                components["migrations"] = ["status": "error", "message": .string(String(describing: error))]
            }
        } catch {
            healthy = false
            components["database"] = ["status": "unavailable", "message": "The database did not answer within 3 seconds or refused the connection."]
            components["migrations"] = ["status": "unknown"]
        }
        return AdminResponse.json(
            healthy ? .ok : .serviceUnavailable,
            ["status": .string(healthy ? "ok" : "unavailable"), "components": .object(components)])
    }
}

struct TimeoutError: Error {}

/// Runs `operation`, giving up after `duration`.
func withTimeout(_ duration: Duration, _ operation: @escaping @Sendable () async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: duration)
            throw TimeoutError()
        }
        try await group.next()
        group.cancelAll()
    }
}
