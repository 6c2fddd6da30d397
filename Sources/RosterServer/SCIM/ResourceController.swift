import Foundation
import Hummingbird
import RosterAuth
import RosterStore
import SCIM

/// `/scim/v2/Users` or `/scim/v2/Groups` (RFC 7644 §3): the same protocol over either backend.
/// HTTP only: it reads the request, calls `writes` (or the backend for reads), and shapes the response.
struct ResourceController<Backend: ResourceBackend>: Sendable {
    let writes: ResourceWrites<Backend>
    let cursors: CursorKeys
    /// Where list page sizes come from (they may change at run time).
    let settings: RuntimeSettingsHolder

    private var backend: Backend { writes.backend }
    private var type: ResourceType { backend.resourceType }
    private var endpoint: String { String(type.endpoint.dropFirst()) }

    func addRoutes(to group: RouterGroup<ScimRequestContext>) {
        group.post(RouterPath(endpoint), use: create)
        group.get(RouterPath(endpoint), use: list)
        group.post(RouterPath(endpoint + "/.search"), use: search)
        group.get(RouterPath(endpoint + "/:id"), use: get)
        group.put(RouterPath(endpoint + "/:id"), use: replace)
        group.patch(RouterPath(endpoint + "/:id"), use: patch)
        group.delete(RouterPath(endpoint + "/:id"), use: delete)
        ScimController.refuse([.put, .patch, .delete], on: endpoint, in: group)
        ScimController.refuse([.post], on: endpoint + "/:id", in: group)
    }

    @Sendable func create(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let projection = try ScimController.projection(request)
        let stored = try await writes.create(
            tenant: principal.tenantID, input: try await request.scimJSON(context: context), projection: projection, change: ChangeContext(principal))
        return respond(.created, stored, projection)
    }

    @Sendable func get(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let projection = try ScimController.projection(request)
        let id = try ScimController.resourceID(context, type: type.name)
        guard let stored = try await backend.get(tenant: principal.tenantID, id: id, projection: projection) else {
            throw ScimError.resourceNotFound(type.name, id)
        }
        let (_, meta) = backend.render(stored)
        if ScimController.notModified(request, version: meta.version) { return ScimController.notModifiedResponse(meta) }
        return respond(.ok, stored, projection)
    }

    @Sendable func replace(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let input = try await request.scimJSON(context: context)
        return try await update(request, context, answersNoContent: false) { principal, id, precondition, projection in
            try await writes.replace(
                tenant: principal.tenantID, id: id, input: input, precondition: precondition, projection: projection, change: ChangeContext(principal))
        }
    }

    @Sendable func patch(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let input = try await request.scimJSON(context: context)
        return try await update(request, context, answersNoContent: backend.patchAnswersNoContent) { principal, id, precondition, projection in
            try await writes.patch(
                tenant: principal.tenantID, id: id, input: input, precondition: precondition, projection: projection, change: ChangeContext(principal))
        }
    }

    /// PUT and PATCH: 200 with the resource, or 204 with only its ETag when the backend answers
    /// PATCH that way and the client asked for no attributes.
    private func update(
        _ request: Request, _ context: ScimRequestContext, answersNoContent: Bool,
        _ write: (ScimPrincipal, UUID, VersionPrecondition?, Projection?) async throws -> Backend.Stored
    ) async throws -> Response {
        let principal = try context.requirePrincipal()
        let projection = try ScimController.projection(request)
        let id = try ScimController.resourceID(context, type: type.name)
        let noContent = answersNoContent && projection.isDefault
        let stored = try await write(principal, id, ScimController.precondition(request.headers[.ifMatch]), noContent ? nil : projection)
        if noContent { return Response(status: .noContent, headers: [.eTag: backend.render(stored).1.etag]) }
        return respond(.ok, stored, projection)
    }

    @Sendable func delete(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try ScimController.resourceID(context, type: type.name)
        try await writes.delete(
            tenant: principal.tenantID, id: id, precondition: ScimController.precondition(request.headers[.ifMatch]), change: ChangeContext(principal))
        return Response(status: .noContent)
    }

    @Sendable func list(_ request: Request, context: ScimRequestContext) async throws -> Response {
        try await respond(to: ScimController.ListRequest(request, limits: settings.pageSizes), context: context)
    }

    @Sendable func search(_ request: Request, context: ScimRequestContext) async throws -> Response {
        try await respond(to: ScimController.ListRequest(search: request.scimJSON(context: context), limits: settings.pageSizes), context: context)
    }

    private func respond(to list: ScimController.ListRequest, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        if let cursor = list.cursor {
            return try await respond(to: list, cursor: cursor, tenant: principal.tenantID)
        }
        let page = try await self.page(tenant: principal.tenantID, query: list.query, projection: list.projection)
        return ScimController.listResponse(totalResults: page.total, startIndex: list.query.page.startIndex, resources: page.resources)
    }

    /// RFC 9865: a keyset page, a signed cursor to the next page unless it is the last, and to the
    /// previous one unless it is the first.
    private func respond(to list: ScimController.ListRequest, cursor: String, tenant: UUID) async throws -> Response {
        let codec = try await cursors.codec()
        var query = list.query
        query.cursorMode = true
        let count = query.page.count
        if !cursor.isEmpty {
            query.cursor = try codec.decode(cursor, tenant: tenant, type: type.name, query: list.binding, count: count)
        }
        let page = try await backend.listByCursor(tenant: tenant, query: query, projection: list.projection)
        func encoded(_ position: CursorPosition?) -> String? {
            position.map { codec.encode($0, tenant: tenant, type: type.name, query: list.binding, count: count) }
        }
        return ScimController.listResponse(
            totalResults: page.totalResults, startIndex: nil,
            resources: page.resources.map { list.projection.apply(to: backend.render($0).0, of: type) },
            nextCursor: encoded(page.next), previousCursor: encoded(page.previous))
    }

    /// A page of resources, also for the root `/.search`.
    func page(tenant: UUID, query: ResourceQuery, projection: Projection) async throws -> (total: Int, resources: [JSONValue]) {
        let page = try await backend.list(tenant: tenant, query: query, projection: projection)
        return (page.totalResults, page.resources.map { projection.apply(to: backend.render($0).0, of: type) })
    }

    private func respond(_ status: HTTPResponse.Status, _ stored: Backend.Stored, _ projection: Projection) -> Response {
        let (resource, meta) = backend.render(stored)
        return ScimResponse.resource(status, projection.apply(to: resource, of: type), meta: meta)
    }
}
