import Foundation
import Hummingbird
import RosterStore
import SCIM

/// What the SCIM resource controllers share: request parsing and response shaping.
enum ScimController {
    static let searchRequestSchema = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

    /// The `:id` path parameter; an id that is not a UUID names no resource.
    static func resourceID(_ context: some RequestContext, type: String) throws -> UUID {
        let raw = context.parameters.get("id") ?? ""
        guard let id = UUID(uuidString: raw) else { throw ScimError.notFound("\(type) \(raw) not found.") }
        return id
    }

    /// RFC 7644 §3.4.2.5: `attributes` / `excludedAttributes` on any request that returns resources.
    static func projection(_ request: Request) throws -> Projection {
        let parameters = request.uri.queryParameters
        return try Projection(attributes: parameters.get("attributes"), excludedAttributes: parameters.get("excludedAttributes"))
    }

    /// RFC 7644 §3.14: `If-Match` on PUT, PATCH and DELETE; `*` (or no header) means any version.
    /// Bulk operations carry the same tag as their `version`.
    static func precondition(_ header: String?) -> VersionPrecondition? {
        guard let header, !header.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
        let tags = entityTags(header)
        if tags.contains("*") { return nil }
        return VersionPrecondition(versions: Set(tags.compactMap(Int64.init)))
    }

    /// RFC 7644 §3.14: `If-None-Match` on GET: true when the client's copy is current.
    static func notModified(_ request: Request, version: Int64) -> Bool {
        guard let header = request.headers[.ifNoneMatch] else { return false }
        let tags = entityTags(header)
        return tags.contains("*") || tags.contains(String(version))
    }

    /// `W/"3", "4"` → ["3", "4"]: weak and strong tags compare the same here (RFC 7232 weak comparison).
    private static func entityTags(_ header: String) -> [String] {
        header.split(separator: ",").map { part in
            var tag = part.trimmingCharacters(in: .whitespaces)
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            return tag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
    }

    /// Answers 405 with a SCIM error for the methods a path does not take.
    static func refuse<Context: RequestContext>(_ methods: [HTTPRequest.Method], on path: String, in group: RouterGroup<Context>) {
        for method in methods {
            group.on(RouterPath(path), method: method) { _, _ -> Response in
                throw ScimError(status: 405, detail: "\(method.rawValue) is not allowed on \(path).")
            }
        }
    }

    /// A list request: from the query string (GET) or a SearchRequest body (POST /.search, RFC 7644 §3.4.3).
    struct ListRequest {
        var query: ResourceQuery
        var projection: Projection
        /// RFC 9865: present (even empty) for cursor pagination; empty asks for the first page.
        var cursor: String?
        /// What a cursor is bound to: every parameter but the cursor itself.
        var binding: String

        /// - Parameter limits: the page sizes of the runtime settings.
        init(_ request: Request, limits: Pagination.Limits) throws {
            let p = request.uri.queryParameters
            try self.init(
                filter: p.get("filter"), sortBy: p.get("sortBy"), sortOrder: p.get("sortOrder"),
                startIndex: p.get("startIndex"), count: p.get("count"),
                attributes: p.get("attributes"), excludedAttributes: p.get("excludedAttributes"),
                cursor: p.get("cursor") ?? (Self.hasBareCursor(request.uri.query) ? "" : nil), limits: limits)
        }

        /// `?cursor&count=10`: the RFC's own first-page example has no `=`.
        private static func hasBareCursor(_ query: String?) -> Bool {
            query?.split(separator: "&").contains { $0 == "cursor" } ?? false
        }

        init(search body: JSONValue, limits: Pagination.Limits) throws {
            guard case .object(let object) = body else { throw ScimError.invalidSyntax("A search request must be a JSON object.") }
            func field(_ name: String) -> JSONValue? { object.first { $0.key.caseInsensitiveEquals(name) }?.value }
            let schemas = field("schemas")?.arrayValue ?? []
            guard schemas.contains(where: { $0.stringValue?.caseInsensitiveEquals(ScimController.searchRequestSchema) == true }) else {
                throw ScimError.invalidSyntax("A search request's 'schemas' must be [\"\(ScimController.searchRequestSchema)\"].")
            }
            func text(_ name: String) throws -> String? {
                guard let value = field(name), !value.isNull else { return nil }
                switch value {
                case .string(let s): return s
                case .integer(let i): return String(i)
                case .array(let items) where name.hasSuffix("ttributes"):
                    return try items.map { item in
                        guard let s = item.stringValue else { throw ScimError.invalidValue("'\(name)' must list attribute names.") }
                        return s
                    }.joined(separator: ",")
                default: throw ScimError.invalidValue("'\(name)' has the wrong type.")
                }
            }
            try self.init(
                filter: text("filter"), sortBy: text("sortBy"), sortOrder: text("sortOrder"),
                startIndex: text("startIndex"), count: text("count"),
                attributes: text("attributes"), excludedAttributes: text("excludedAttributes"), cursor: text("cursor"), limits: limits)
        }

        private init(
            filter: String?, sortBy: String?, sortOrder: String?, startIndex: String?, count: String?,
            attributes: String?, excludedAttributes: String?, cursor: String?, limits: Pagination.Limits
        ) throws {
            if cursor != nil && startIndex != nil {
                throw ScimError.invalidValue("Use startIndex (index pagination) or cursor (RFC 9865), not both.")
            }
            if let count, let value = Int(count), value > limits.maximumCount, cursor != nil {
                throw ScimError(status: 400, scimType: .invalidCount, detail: "count must be between 0 and \(limits.maximumCount).")
            }
            self.cursor = cursor
            binding = [filter, sortBy, sortOrder?.lowercased(), attributes, excludedAttributes]
                .map { $0 ?? "" }.joined(separator: "\u{1F}")
            var query = ResourceQuery(page: try Pagination(startIndex: startIndex, count: count, limits: limits))
            if let filter, !filter.trimmingCharacters(in: .whitespaces).isEmpty {
                query.filter = try FilterParser.parse(filter)
            }
            if let sortBy, !sortBy.isEmpty {
                do {
                    query.sortBy = try FilterParser.attributePath(sortBy)
                } catch {
                    throw ScimError.invalidValue("sortBy '\(sortBy)' is not an attribute path.")
                }
            }
            switch sortOrder?.lowercased() {
            case nil, "ascending": query.descending = false
            case "descending": query.descending = true
            default: throw ScimError.invalidValue("sortOrder must be 'ascending' or 'descending'.")
            }
            self.query = query
            projection = try Projection(attributes: attributes, excludedAttributes: excludedAttributes)
        }
    }

    static func listResponse(
        totalResults: Int, startIndex: Int?, resources: [JSONValue], nextCursor: String? = nil, previousCursor: String? = nil
    ) -> Response {
        let list = ListResponse(
            totalResults: totalResults, startIndex: startIndex, resources: resources, nextCursor: nextCursor, previousCursor: previousCursor)
        return ScimResponse.json(.ok, list.body)
    }

    /// 304 for a GET whose `If-None-Match` names the current version.
    static func notModifiedResponse(_ meta: ResourceMeta) -> Response {
        Response(status: .notModified, headers: [.eTag: meta.etag])
    }
}
