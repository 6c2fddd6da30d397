import Foundation
import CoreMetrics
import Hummingbird
import Prometheus
import RosterFeed
import RosterStore

/// One Prometheus registry per application (so tests running side by side never share counts),
/// fed through swift-metrics. Labels are route templates and closed sets, never ids or raw paths.
public struct RosterMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Request and query latencies here are milliseconds; the default buckets start at 5 ms.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
        ]
        self.factory = factory
    }

    /// `roster_http_requests_total` and `roster_http_request_duration_seconds`.
    func recordRequest(route: String, method: HTTPRequest.Method, status: HTTPResponse.Status, duration: Duration) {
        let statusClass = "\(status.code / 100)xx"
        Counter(
            label: "roster_http_requests_total",
            dimensions: [("route", route), ("method", method.rawValue), ("status_class", statusClass)], factory: factory
        ).increment()
        Timer(label: "roster_http_request_duration_seconds", dimensions: [("route", route), ("method", method.rawValue)], factory: factory)
            .recordNanoseconds(duration.nanoseconds)
    }

    /// `roster_scim_operations_total` by resource type, operation and outcome.
    func recordScimOperation(_ operation: ScimOperation, status: HTTPResponse.Status) {
        Counter(
            label: "roster_scim_operations_total",
            dimensions: [("resource_type", operation.resourceType), ("operation", operation.name), ("outcome", ScimOperation.outcome(status))],
            factory: factory
        ).increment()
    }

    /// `roster_tokens_rejected_total` by the credential the route expects and the reason.
    func recordRejection(expected credential: String, reason: String) {
        Counter(label: "roster_tokens_rejected_total", dimensions: [("credential", credential), ("reason", reason)], factory: factory).increment()
    }

    /// `roster_db_pool_connections{state}` and `roster_db_pool_max_connections`, set by each scrape.
    /// An unknown value removes its sample, so Prometheus never sees a stale one as current.
    func recordPool(inUse: Int, idle: Int?, maxConnections: Int?) {
        Meter(label: "roster_db_pool_connections", dimensions: [("state", "in_use")], factory: factory).set(inUse)
        let idleMeter = Meter(label: "roster_db_pool_connections", dimensions: [("state", "idle")], factory: factory)
        if let idle { idleMeter.set(idle) } else { idleMeter.destroy() }
        let maxMeter = Meter(label: "roster_db_pool_max_connections", factory: factory)
        if let maxConnections { maxMeter.set(maxConnections) } else { maxMeter.destroy() }
    }

    /// `roster_scim_token_cache_entries`: SCIM tokens this process holds in its cache, set by each scrape.
    func recordTokenCache(entries: Int) {
        Meter(label: "roster_scim_token_cache_entries", factory: factory).set(entries)
    }

    /// `roster_webhook_subscriptions{state}` and `roster_webhook_lag_seconds` (the most any active
    /// subscription is behind), set by each scrape; removed when the database did not answer.
    func recordWebhooks(_ lags: [SubscriptionLag]?) {
        let lag = Meter(label: "roster_webhook_lag_seconds", factory: factory)
        for state in [SubscriptionLag.State.active, .paused, .disabled] {
            let meter = Meter(label: "roster_webhook_subscriptions", dimensions: [("state", state.rawValue)], factory: factory)
            if let lags { meter.set(lags.filter { $0.state == state }.count) } else { meter.destroy() }
        }
        guard let lags else { return lag.destroy() }
        let now = Date()
        lag.set(lags.filter { $0.state == .active }.map { $0.lag(at: now) }.max() ?? 0)
    }

    /// `roster_events_committed`: change-feed events committed, all tenants and processes; set by each scrape.
    func recordEvents(committed: Int?) {
        let meter = Meter(label: "roster_events_committed", factory: factory)
        if let committed { meter.set(committed) } else { meter.destroy() }
    }

    /// The Prometheus text exposition of everything recorded so far.
    func exposition() -> [UInt8] { registry.emitToBuffer() }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// A SCIM request as an operation on a resource type, from its route template.
struct ScimOperation {
    var resourceType: String
    var name: String

    init?(route: String, method: HTTPRequest.Method) {
        let parts = route.split(separator: "/").dropFirst(2)  // drop "scim", "v2"
        guard let collection = parts.first, route.hasPrefix("/scim/v2/") else { return nil }
        let types = ["Users": "User", "Groups": "Group", "ServiceProviderConfig": "ServiceProviderConfig",
                     "ResourceTypes": "ResourceType", "Schemas": "Schema", ".search": "any", "Bulk": "any"]
        guard let type = types[String(collection)] else { return nil }
        resourceType = type
        let item = parts.count > 1
        switch (method, item, parts.last == ".search") {
        case (.post, _, true): name = "search"
        case (.post, false, _) where collection == "Bulk": name = "bulk"
        case (.post, false, _): name = "create"
        case (.get, false, _): name = "list"
        case (.get, true, _): name = "get"
        case (.put, true, _): name = "replace"
        case (.patch, true, _): name = "patch"
        case (.delete, true, _): name = "delete"
        default: name = "other"
        }
    }

    static func outcome(_ status: HTTPResponse.Status) -> String {
        switch status.code {
        case 200..<300: "success"
        case 400: "invalid"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 409: "conflict"
        case 412: "precondition_failed"
        case 413: "too_large"
        case 429: "rate_limited"
        case 501: "not_implemented"
        case 500..<600: "error"
        default: "client_error"
        }
    }
}
