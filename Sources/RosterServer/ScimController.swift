import Foundation
import Hummingbird
import SCIM

/// What the SCIM resource controllers share.
enum ScimController {
    /// RFC 7644 §3.5.2: a server without PATCH answers 501; ServiceProviderConfig says patch is unsupported.
    static let patchUnsupported = ScimError(status: 501, detail: "PATCH is not supported by this server yet; use PUT.")

    static func notFound(_ type: String, _ id: UUID) -> ScimError {
        .notFound("\(type) \(id.uuidString.lowercased()) not found.")
    }

    /// The `:id` path parameter; an id that is not a UUID names no resource.
    static func resourceID(_ context: some RequestContext, type: String) throws -> UUID {
        let raw = context.parameters.get("id") ?? ""
        guard let id = UUID(uuidString: raw) else { throw ScimError.notFound("\(type) \(raw) not found.") }
        return id
    }

    /// RFC 7644 §3.4.3: `/.search` is optional; until it is supported it answers 501.
    static let searchUnsupported = ScimError(status: 501, detail: "POST /.search is not supported by this server yet; use GET with a filter.")

    /// RFC 7644 §3.4.2.5: `attributes` / `excludedAttributes` on any request that returns resources.
    static func projection(_ request: Request) throws -> Projection {
        let parameters = request.uri.queryParameters
        return try Projection(attributes: parameters.get("attributes"), excludedAttributes: parameters.get("excludedAttributes"))
    }

    /// Answers 405 with a SCIM error for the methods a path does not take.
    static func refuse<Context: RequestContext>(_ methods: [HTTPRequest.Method], on path: String, in group: RouterGroup<Context>) {
        for method in methods {
            group.on(RouterPath(path), method: method) { _, _ -> Response in
                throw ScimError(status: 405, detail: "\(method.rawValue) is not allowed on \(path).")
            }
        }
    }

    /// RFC 7644 §3.4.2: `filter`, `startIndex`, `count`, and the projection.
    struct ListQuery {
        var filter: Filter?
        var page: Pagination
        var projection: Projection

        init(_ request: Request) throws {
            let parameters = request.uri.queryParameters
            if let text = parameters.get("filter"), !text.trimmingCharacters(in: .whitespaces).isEmpty {
                filter = try FilterParser.parse(text)
            }
            page = try Pagination(startIndex: parameters.get("startIndex"), count: parameters.get("count"))
            projection = try ScimController.projection(request)
        }
    }
}
