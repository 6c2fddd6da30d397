import Foundation
import Hummingbird
import RosterFeed
import RosterStore
import SCIM

/// `/api/health` (components and overall status), `/api/health/live` (no database) and
/// `/api/health/ready` (for orchestrators: can this instance take traffic).
///
/// - `ok`: the database answers within the latency budget and migrations are current.
/// - `degraded`: it still serves, but the database answered slower than the budget: 200, worth a look.
/// - `unhealthy`: it cannot serve: the database is unreachable (within `timeout`, 3 s by default) or migrations are pending: 503.
struct HealthController {
    let database: RosterDatabase
    let migrator: Migrator
    let latencyBudget: Duration
    var timeout: Duration = .seconds(3)
    /// Whether this process runs the webhook dispatcher.
    var dispatcher = true

    enum Status: String {
        case ok, degraded, unhealthy
    }

    func addRoutes<Context: RequestContext>(to group: RouterGroup<Context>) {
        group.get("health/live") { _, _ in AdminResponse.json(.ok, ["status": "ok"]) }
        group.get("health/ready") { _, _ in
            let (status, _) = await check()
            return status == .unhealthy
                ? AdminResponse.json(.serviceUnavailable, ["status": "not_ready"])
                : AdminResponse.json(.ok, ["status": "ready"])
        }
        group.get("health") { _, _ in
            let (status, components) = await check()
            return AdminResponse.json(
                status == .unhealthy ? .serviceUnavailable : .ok, ["status": .string(status.rawValue), "components": .object(components)])
        }
    }

    func check() async -> (Status, [String: JSONValue]) {
        let clock = ContinuousClock()
        let start = clock.now
        var components: [String: JSONValue] = [:]
        var status = Status.ok
        do {
            try await withTimeout(timeout) {
                try await database.query("SELECT 1")
            }
            let elapsed = clock.now - start
            let milliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
            let slow = elapsed > latencyBudget
            if slow { status = .degraded }
            components["database"] = [
                "status": .string(slow ? "slow" : "ok"), "latency_ms": .decimal((milliseconds * 100).rounded() / 100),
                "latency_budget_ms": .integer(Int(latencyBudget.components.seconds * 1000 + latencyBudget.components.attoseconds / 1_000_000_000_000_000)),
            ]
            do {
                let migrations = try await migrator.status(database)
                components["migrations"] = [
                    "status": .string(migrations.pending == 0 ? "current" : "pending"),
                    "applied": .integer(migrations.applied), "pending": .integer(migrations.pending),
                ]
                if migrations.pending > 0 { status = .unhealthy }
            } catch {
                status = .unhealthy
                components["migrations"] = ["status": "error", "message": .string(String(describing: error))]
            }
            if status != .unhealthy { components["webhooks"] = await webhooks() }
        } catch {
            status = .unhealthy
            components["database"] = ["status": "unavailable", "message": "The database did not answer within 3 seconds or refused the connection."]
            components["migrations"] = ["status": "unknown"]
        }
        return (status, components)
    }
}

/// Subscriptions behind by more than this are `lagging`.
let webhookLagThreshold: TimeInterval = 60

extension HealthController {
    /// The dispatcher and each subscription's lag (the age of its oldest undelivered event). A
    /// receiver's outage is not this instance's: it never changes the overall status.
    func webhooks() async -> JSONValue {
        guard let lags = try? await withTimeout(timeout, { try await WebhookSubscriptions(database: database).lags(limit: 100) }) else {
            return ["status": "unknown", "dispatcher": .string(dispatcher ? "running" : "off")]
        }
        let now = Date()
        let lagging = lags.contains { $0.state == .active && $0.lag(at: now) > webhookLagThreshold }
        let paused = lags.contains { $0.state == .paused }
        return [
            "status": .string(paused ? "paused" : lagging ? "lagging" : "ok"),
            "dispatcher": .string(dispatcher ? "running" : "off"),
            "subscriptions": .array(lags.map { lag in
                [
                    "id": .string(lag.id.uuidString.lowercased()), "state": .string(lag.state.rawValue),
                    "lag_seconds": .decimal((lag.lag(at: now) * 10).rounded() / 10),
                ]
            }),
        ]
    }
}

struct TimeoutError: Error {}

/// Runs `operation`, giving up after `duration`.
@discardableResult
func withTimeout<Result: Sendable>(
    _ duration: Duration, _ operation: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Result.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: duration)
            throw TimeoutError()
        }
        defer { group.cancelAll() }
        guard let result = try await group.next() else { throw TimeoutError() }
        return result
    }
}
