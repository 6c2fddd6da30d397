import Foundation
import Hummingbird
import RosterStore
import SCIM

/// `/scim/v2/Users` (RFC 7644 §3).
struct UsersController {
    let users: UserRepository
    let resourceType: ResourceType
    let baseURL: String

    func addRoutes(to group: RouterGroup<ScimRequestContext>) {
        group.post("Users", use: create)
        group.get("Users", use: list)
        group.post("Users/.search", use: search)
        group.get("Users/:id", use: get)
        group.put("Users/:id", use: replace)
        group.patch("Users/:id", use: patch)
        group.delete("Users/:id", use: delete)
        ScimController.refuse([.put, .patch, .delete], on: "Users", in: group)
        ScimController.refuse([.post], on: "Users/:id", in: group)
    }

    private var validator: ResourceValidator { ResourceValidator(resourceType: resourceType) }

    @Sendable func create(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let projection = try ScimController.projection(request)
        let body = try validator.validate(try await request.scimJSON(context: context))
        let user = try await users.create(tenant: principal.tenantID, body: body)
        return respond(.created, user, projection)
    }

    @Sendable func get(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let projection = try ScimController.projection(request)
        let id = try ScimController.resourceID(context, type: "User")
        guard let user = try await users.get(tenant: principal.tenantID, id: id) else { throw ScimController.notFound("User", id) }
        if ScimController.notModified(request, version: user.version) { return ScimController.notModifiedResponse(meta(user)) }
        return respond(.ok, user, projection)
    }

    @Sendable func replace(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let projection = try ScimController.projection(request)
        let id = try ScimController.resourceID(context, type: "User")
        let input = try await request.scimJSON(context: context)
        let validator = self.validator
        let user = try await users.update(tenant: principal.tenantID, id: id, precondition: ScimController.precondition(request)) {
            try validator.validate(input, existing: $0)
        }
        guard let user else { throw ScimController.notFound("User", id) }
        return respond(.ok, user, projection)
    }

    @Sendable func patch(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let projection = try ScimController.projection(request)
        let id = try ScimController.resourceID(context, type: "User")
        let patch = try PatchRequest(try await request.scimJSON(context: context))
        let engine = PatchEngine(resourceType: resourceType)
        let user = try await users.update(tenant: principal.tenantID, id: id, precondition: ScimController.precondition(request)) {
            try engine.apply(patch, to: $0).body
        }
        guard let user else { throw ScimController.notFound("User", id) }
        return respond(.ok, user, projection)
    }

    @Sendable func delete(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try ScimController.resourceID(context, type: "User")
        guard try await users.delete(tenant: principal.tenantID, id: id, precondition: ScimController.precondition(request)) else {
            throw ScimController.notFound("User", id)
        }
        return Response(status: .noContent)
    }

    @Sendable func list(_ request: Request, context: ScimRequestContext) async throws -> Response {
        try await respond(to: ScimController.ListRequest(request), context: context)
    }

    @Sendable func search(_ request: Request, context: ScimRequestContext) async throws -> Response {
        try await respond(to: ScimController.ListRequest(search: request.scimJSON(context: context)), context: context)
    }

    private func respond(to list: ScimController.ListRequest, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let page = try await users.list(tenant: principal.tenantID, query: list.query)
        return ScimController.listResponse(
            totalResults: page.totalResults, startIndex: list.query.page.startIndex,
            resources: page.resources.map { list.projection.apply(to: render($0), of: resourceType) })
    }

    /// A page of users for the root `/.search`.
    func page(tenant: UUID, query: ResourceQuery, projection: Projection) async throws -> (total: Int, resources: [JSONValue]) {
        let page = try await users.list(tenant: tenant, query: query)
        return (page.totalResults, page.resources.map { projection.apply(to: render($0), of: resourceType) })
    }

    private func render(_ user: StoredResource) -> JSONValue {
        resourceType.render(id: user.id, body: user.body, meta: meta(user))
    }

    private func meta(_ user: StoredResource) -> ResourceMeta {
        ResourceMeta(
            resourceType: resourceType.name, created: user.created, lastModified: user.lastModified,
            location: "\(baseURL)/Users/\(user.id.uuidString.lowercased())", version: user.version)
    }

    private func respond(_ status: HTTPResponse.Status, _ user: StoredResource, _ projection: Projection) -> Response {
        ScimResponse.resource(status, projection.apply(to: render(user), of: resourceType), meta: meta(user))
    }
}
