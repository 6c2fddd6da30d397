import Hummingbird

/// A path the router knows, asked with a method it does not take: 405 with `Allow`, not 404.
struct MethodNotAllowed: Error {
    let allowed: [HTTPRequest.Method]
}

/// Added to the router last, so it wraps only the not-found responder (Hummingbird wraps each route
/// with the middleware present when it was added): it turns "no route" into 405 where the path exists.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    private let templates: [(segments: [Substring], methods: [HTTPRequest.Method])]

    init(routes: [Router<Context>.RouteDescription]) {
        var byPath: [String: [HTTPRequest.Method]] = [:]
        for route in routes { byPath[route.path.description, default: []].append(route.method) }
        templates = byPath.map { (path, methods) in
            (path.split(separator: "/"), methods.sorted { $0.rawValue < $1.rawValue })
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let segments = request.uri.path.split(separator: "/")
        let allowed = templates.filter { Self.matches($0.segments, segments) }.flatMap(\.methods)
        guard !allowed.isEmpty else { return try await next(request, context) }
        throw MethodNotAllowed(allowed: allowed)
    }

    private static func matches(_ template: [Substring], _ segments: [Substring]) -> Bool {
        template.count == segments.count
            && zip(template, segments).allSatisfy { pattern, segment in
                (pattern.hasPrefix("{") && pattern.hasSuffix("}")) || pattern == segment
            }
    }
}
