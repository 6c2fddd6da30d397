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
        group.get("Users/:id", use: get)
        group.put("Users/:id", use: replace)
        group.delete("Users/:id", use: delete)
        group.patch("Users/:id") { _, _ -> Response in throw ScimController.patchUnsupported }
        group.post("Users/.search") { _, _ -> Response in throw ScimController.searchUnsupported }
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
        return respond(.ok, user, projection)
    }

    @Sendable func replace(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let projection = try ScimController.projection(request)
        let id = try ScimController.resourceID(context, type: "User")
        let input = try await request.scimJSON(context: context)
        let validator = self.validator
        let user = try await users.replace(tenant: principal.tenantID, id: id) { existing in
            try validator.validate(input, existing: existing)
        }
        guard let user else { throw ScimController.notFound("User", id) }
        return respond(.ok, user, projection)
    }

    @Sendable func delete(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try ScimController.resourceID(context, type: "User")
        guard try await users.delete(tenant: principal.tenantID, id: id) else { throw ScimController.notFound("User", id) }
        return Response(status: .noContent)
    }

    @Sendable func list(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let query = try ScimController.ListQuery(request)
        let page = try await users.list(tenant: principal.tenantID, filter: query.filter, page: query.page)
        let response = ListResponse(
            totalResults: page.totalResults, startIndex: query.page.startIndex,
            resources: page.resources.map { query.projection.apply(to: render($0), of: resourceType) })
        return ScimResponse.json(.ok, response.body)
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
