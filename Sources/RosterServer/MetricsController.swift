import Hummingbird

/// `GET /metrics`: Prometheus text format on the server's own port, for a global admin key with the
/// `metrics` scope (Prometheus sends it as `authorization: {credentials: radm_…}`).
struct MetricsController {
    let metrics: RosterMetrics

    func addRoutes(to group: RouterGroup<AdminRequestContext>) {
        group.get("metrics") { _, _ in
            let principal = try AuthenticatedAdmin.require(.metrics)
            guard principal.isGlobal else { throw AdminError.forbidden("Metrics span every tenant: they need a global admin key.") }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        }
    }
}
