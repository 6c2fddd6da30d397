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
        group.get("Groups/:id", use: get)
        group.put("Groups/:id", use: replace)
        group.delete("Groups/:id", use: delete)
        group.patch("Groups/:id") { _, _ -> Response in throw ScimController.patchUnsupported }
        group.post("Groups/.search") { _, _ -> Response in throw ScimController.searchUnsupported }
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
        return respond(.ok, group, projection)
    }

    @Sendable func replace(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let projection = try ScimController.projection(request)
        let id = try ScimController.resourceID(context, type: "Group")
        let input = try await request.scimJSON(context: context)
        let (validator, resourceType) = (self.validator, self.resourceType)
        let group = try await groups.replace(tenant: principal.tenantID, id: id) { existing in
            var body = try validator.validate(input, existing: existing)
            let members = try resourceType.extractMembers(from: &body)
            return (body, members)
        }
        guard let group else { throw ScimController.notFound("Group", id) }
        return respond(.ok, group, projection)
    }

    @Sendable func delete(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try ScimController.resourceID(context, type: "Group")
        guard try await groups.delete(tenant: principal.tenantID, id: id) else { throw ScimController.notFound("Group", id) }
        return Response(status: .noContent)
    }

    @Sendable func list(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let query = try ScimController.ListQuery(request)
        let page = try await groups.list(tenant: principal.tenantID, filter: query.filter, page: query.page)
        let response = ListResponse(
            totalResults: page.totalResults, startIndex: query.page.startIndex,
            resources: page.resources.map { query.projection.apply(to: render($0), of: resourceType) })
        return ScimResponse.json(.ok, response.body)
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
