import Hummingbird
import RosterAuth
import RosterFeed
import RosterStore

/// `GET /metrics`: Prometheus text format on the server's own port, for a global admin key with the
/// `metrics` scope (Prometheus sends it as `authorization: {credentials: radm_…}`).
struct MetricsController {
    let metrics: RosterMetrics
    let database: RosterDatabase
    /// How long a scrape waits for the database to count the pool's sessions.
    var timeout: Duration = .seconds(3)
    /// The SCIM token cache, for `roster_scim_token_cache_entries`; nil when there is none.
    var tokenCache: ScimTokenCache? = nil

    func addRoutes(to group: RouterGroup<AdminRequestContext>) {
        group.get("metrics") { _, _ in
            let principal = try AuthenticatedAdmin.require(.metrics)
            guard principal.allowsGlobally(.metrics) else {
                throw AdminError.forbidden("Metrics span every tenant: they need the 'metrics' scope globally.")
            }
            await recordPool()
            if let tokenCache { metrics.recordTokenCache(entries: tokenCache.count) }
            metrics.recordWebhooks(try? await withTimeout(timeout) { try await WebhookSubscriptions(database: database).lags() })
            metrics.recordEvents(committed: try? await withTimeout(timeout) { try await EventLog(database: database).committed() })
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        }
    }

    /// The pool gauges, read at scrape time. A database that does not answer only leaves `idle` out.
    func recordPool() async {
        let open = try? await withTimeout(timeout) { try await database.openConnections() }
        // Read once the count above has returned its connection: the scrape's own lease is not "in use".
        let inUse = database.connectionsInUse
        // The sessions were counted a moment before the leases: under churn the difference can dip below zero.
        let idle = open.flatMap { $0 }.map { max(0, $0 - inUse) }
        metrics.recordPool(inUse: inUse, idle: idle, maxConnections: database.pool?.maxConnections)
    }
}
