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
/// - `unhealthy`: it cannot serve: the database is unreachable (within `timeout`, 3 s by default), none of its hosts is the
///   primary (`no_primary`: a failover under way), or migrations are pending: 503.
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
            let (status, components) = await check()
            guard status == .unhealthy else { return AdminResponse.json(.ok, ["status": "ready"]) }
            // Why, in the components' words: the database `unavailable` or `no_primary` (a failover under way), or
            // migrations `pending`.
            let reasons = components.compactMap { name, value -> JSONValue? in
                guard name != "webhooks", let state = value["status"]?.stringValue, !["ok", "slow", "current", "unknown"].contains(state) else {
                    return nil
                }
                return .string("\(name): \(state)")
            }.sorted { ($0.stringValue ?? "") < ($1.stringValue ?? "") }
            return AdminResponse.json(.serviceUnavailable, ["status": "not_ready", "reasons": .array(reasons)])
        }
        group.get("health") { _, _ in
            let (status, components) = await check()
            return AdminResponse.json(
                status == .unhealthy ? .serviceUnavailable : .ok, ["status": .string(status.rawValue), "components": .object(components)])
        }
    }

    /// The overall status and each component's, and nothing else: the endpoint answers anyone, so it names no
    /// tenant's objects, no figures and no error text, and its work does not grow with what tenants create.
    func check() async -> (Status, [String: JSONValue]) {
        let clock = ContinuousClock()
        let start = clock.now
        var components: [String: JSONValue] = [:]
        var status = Status.ok
        // Several hosts and none of them the primary now: a failover under way. Nothing to ping.
        guard database.hasPrimary else {
            components["database"] = ["status": "no_primary"]
            components["migrations"] = ["status": "unknown"]
            components["webhooks"] = ["status": .string(dispatcher ? "running" : "off")]
            return (.unhealthy, components)
        }
        do {
            try await withTimeout(timeout) {
                try await database.ping()
            }
            let slow = clock.now - start > latencyBudget
            if slow { status = .degraded }
            components["database"] = ["status": .string(slow ? "slow" : "ok")]
            do {
                let migrations = try await migrator.status(database)
                components["migrations"] = ["status": .string(migrations.pending == 0 ? "current" : "pending")]
                if migrations.pending > 0 { status = .unhealthy }
            } catch {
                status = .unhealthy
                components["migrations"] = ["status": "error"]
            }
        } catch {
            status = .unhealthy
            components["database"] = ["status": "unavailable"]
            components["migrations"] = ["status": "unknown"]
        }
        components["webhooks"] = ["status": .string(dispatcher ? "running" : "off")]
        return (status, components)
    }
}

/// Subscriptions behind by more than this are `lagging`.
let webhookLagThreshold: TimeInterval = 60

extension HealthController {
    /// The dispatcher and the lag (the age of the oldest undelivered event) of each subscription of `tenants`
    /// (nil: every tenant), for `GET /api/v1/health/webhooks`. A receiver's outage is not this instance's: it
    /// never changes `/api/health`.
    static func webhooks(_ subscriptions: WebhookSubscriptions, tenants: Set<UUID>?, dispatcher: Bool) async throws
        -> Components.Schemas.WebhookHealth
    {
        let lags = try await subscriptions.lags(limit: 1000, tenants: tenants)
        let now = Date()
        let lagging = lags.contains { $0.state == .active && $0.lag(at: now) > webhookLagThreshold }
        let paused = lags.contains { $0.state == .paused }
        return .init(
            status: paused ? .paused : lagging ? .lagging : .ok, dispatcher: dispatcher ? .running : .off,
            subscriptions: lags.map { lag in
                .init(
                    id: lag.id.lowercasedString, tenantId: lag.tenant.lowercasedString,
                    state: .init(rawValue: lag.state.rawValue) ?? .disabled, lagSeconds: (lag.lag(at: now) * 10).rounded() / 10)
            })
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
