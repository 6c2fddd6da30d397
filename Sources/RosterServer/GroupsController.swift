import Foundation
import Hummingbird
import RosterStore
import SCIM

/// `/scim/v2/Groups` (RFC 7644 §3); members come from and go to `group_members`.
struct GroupsController {
    let groups: GroupRepository
    let resourceType: ResourceType
    let baseURL: String

    func addRoutes(to group: RouterGroup<ScimRequestContext>) {
        group.post("Groups", use: create)
        group.get("Groups", use: list)
        group.post("Groups/.search", use: search)
        group.get("Groups/:id", use: get)
        group.put("Groups/:id", use: replace)
        group.patch("Groups/:id", use: patch)
        group.delete("Groups/:id", use: delete)
        ScimController.refuse([.put, .patch, .delete], on: "Groups", in: group)
        ScimController.refuse([.post], on: "Groups/:id", in: group)
    }

    private var validator: ResourceValidator { ResourceValidator(resourceType: resourceType) }

    @Sendable func create(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let projection = try ScimController.projection(request)
        var body = try validator.validate(try await request.scimJSON(context: context))
        let members = try resourceType.extractMembers(from: &body)
        let group = try await groups.create(tenant: principal.tenantID, body: body, members: members)
        return respond(.created, group, projection)
    }

    @Sendable func get(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let projection = try ScimController.projection(request)
        let id = try ScimController.resourceID(context, type: "Group")
        guard let group = try await groups.get(tenant: principal.tenantID, id: id) else { throw ScimController.notFound("Group", id) }
        if ScimController.notModified(request, version: group.resource.version) {
            return ScimController.notModifiedResponse(meta(group.resource))
        }
        return respond(.ok, group, projection)
    }

    @Sendable func replace(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let projection = try ScimController.projection(request)
        let id = try ScimController.resourceID(context, type: "Group")
        let input = try await request.scimJSON(context: context)
        let (validator, resourceType) = (self.validator, self.resourceType)
        let group = try await groups.update(tenant: principal.tenantID, id: id, precondition: ScimController.precondition(request)) { existing in
            var body = try validator.validate(input, existing: existing)
            let members = try resourceType.extractMembers(from: &body)
            return (body, [.replace(members)])
        }
        guard let group else { throw ScimController.notFound("Group", id) }
        return respond(.ok, group, projection)
    }

    @Sendable func patch(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let projection = try ScimController.projection(request)
        let id = try ScimController.resourceID(context, type: "Group")
        let patch = try PatchRequest(try await request.scimJSON(context: context))
        let engine = PatchEngine(resourceType: resourceType)
        let group = try await groups.update(tenant: principal.tenantID, id: id, precondition: ScimController.precondition(request)) {
            let outcome = try engine.apply(patch, to: $0)
            return (outcome.body, outcome.membershipChanges)
        }
        guard let group else { throw ScimController.notFound("Group", id) }
        return respond(.ok, group, projection)
    }

    @Sendable func delete(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try ScimController.resourceID(context, type: "Group")
        guard try await groups.delete(tenant: principal.tenantID, id: id, precondition: ScimController.precondition(request)) else {
            throw ScimController.notFound("Group", id)
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
        let page = try await self.page(tenant: principal.tenantID, query: list.query, projection: list.projection)
        return ScimController.listResponse(totalResults: page.total, startIndex: list.query.page.startIndex, resources: page.resources)
    }

    /// A page of groups, also for the root `/.search`.
    func page(tenant: UUID, query: ResourceQuery, projection: Projection) async throws -> (total: Int, resources: [JSONValue]) {
        let page = try await groups.list(tenant: tenant, query: query)
        return (page.totalResults, page.resources.map { projection.apply(to: render($0), of: resourceType) })
    }

    private func render(_ group: StoredGroup) -> JSONValue {
        var body = group.resource.body
        if !group.members.isEmpty {
            body["members"] = .array(group.members.map { member in
                let id = member.id.uuidString.lowercased()
                var object: [String: JSONValue] = [
                    "value": .string(id),
                    "$ref": .string("\(baseURL)/\(member.type == .user ? "Users" : "Groups")/\(id)"),
                    "type": .string(member.type.rawValue),
                ]
                if let display = member.display { object["display"] = .string(display) }
                return .object(object)
            })
        }
        return resourceType.render(id: group.resource.id, body: body, meta: meta(group.resource))
    }

    private func meta(_ group: StoredResource) -> ResourceMeta {
        ResourceMeta(
            resourceType: resourceType.name, created: group.created, lastModified: group.lastModified,
            location: "\(baseURL)/Groups/\(group.id.uuidString.lowercased())", version: group.version)
    }

    private func respond(_ status: HTTPResponse.Status, _ group: StoredGroup, _ projection: Projection) -> Response {
        ScimResponse.resource(status, projection.apply(to: render(group), of: resourceType), meta: meta(group.resource))
    }
}
