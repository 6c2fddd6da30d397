import Hummingbird

/// Outermost middleware: counts and times every request under its route template (read after the
/// router matched it; "unmatched" otherwise), and SCIM requests as operations on resource types.
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: RosterMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let status: HTTPResponse.Status
        let response: Response
        do {
            response = try await next(request, context)
            status = response.status
        } catch {
            // ErrorMiddleware sits inside and answers everything; this is the rare error it rethrows.
            record(request, context, status: (error as? any HTTPResponseError)?.status ?? .internalServerError, start: start)
            throw error
        }
        record(request, context, status: status, start: start)
        return response
    }

    private func record(_ request: Request, _ context: Context, status: HTTPResponse.Status, start: ContinuousClock.Instant) {
        let route = context.endpointPath ?? "unmatched"
        metrics.recordRequest(route: route, method: request.method, status: status, duration: ContinuousClock.now - start)
        if let operation = ScimOperation(route: route, method: request.method) {
            metrics.recordScimOperation(operation, status: status)
        }
    }
}
