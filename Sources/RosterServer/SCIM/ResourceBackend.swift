import Foundation
import RosterStore
import SCIM

/// What the SCIM routes and writes (`ResourceWrites`) need from a resource type's storage, so one code path serves both.
protocol ResourceBackend: Sendable {
    associatedtype Stored: Sendable
    var resourceType: ResourceType { get }
    /// Absolute URL of the SCIM root, for `meta.location` and `$ref`.
    var baseURL: String { get }

    /// RFC 7644 §3.5.2: a PATCH may answer 204 when the client asked for no attributes back.
    /// Groups do, so a membership change never reads the member list.
    var patchAnswersNoContent: Bool { get }

    /// `body` and `membership` as the members rule splits them (`ResourceType.separatingMembers`).
    func create(
        tenant: UUID, body: [String: JSONValue], membership: [MembershipChange], projection: Projection, change: ChangeContext
    ) async throws -> Stored
    /// `projection` says what the response may show (nil: nothing), so nothing else need be loaded.
    func get(tenant: UUID, id: UUID, projection: Projection?) async throws -> Stored?
    func update(
        tenant: UUID, id: UUID, precondition: VersionPrecondition?, projection: Projection?, change: ChangeContext,
        _ transform: @escaping @Sendable ([String: JSONValue]) throws -> ([String: JSONValue], [MembershipChange])
    ) async throws -> Stored?
    func delete(tenant: UUID, id: UUID, precondition: VersionPrecondition?, change: ChangeContext) async throws -> Bool
    func list(tenant: UUID, query: ResourceQuery, projection: Projection) async throws -> ResourcePage<Stored>
    func listByCursor(tenant: UUID, query: ResourceQuery, projection: Projection) async throws -> CursorPage<Stored>

    /// The resource as clients see it, before projection, and its `meta`.
    func render(_ stored: Stored) -> (JSONValue, ResourceMeta)
}

extension ResourceBackend {
    func meta(id: UUID, _ resource: StoredResource) -> ResourceMeta {
        ResourceMeta(
            resourceType: resourceType.name, created: resource.created, lastModified: resource.lastModified,
            location: "\(baseURL)\(resourceType.endpoint)/\(id.uuidString.lowercased())", version: resource.version)
    }
}

struct UserBackend: ResourceBackend {
    let users: UserRepository
    let resourceType: ResourceType
    let baseURL: String
    let patchAnswersNoContent = false

    /// A user has no members, so `membership` is empty.
    func create(
        tenant: UUID, body: [String: JSONValue], membership: [MembershipChange], projection: Projection, change: ChangeContext
    ) async throws -> StoredResource {
        var user = try await users.create(tenant: tenant, body: body, change: change)
        user.groups = []  // A new user belongs to no group yet.
        return user
    }

    func get(tenant: UUID, id: UUID, projection: Projection?) async throws -> StoredResource? {
        try await users.get(tenant: tenant, id: id)
    }

    func update(
        tenant: UUID, id: UUID, precondition: VersionPrecondition?, projection: Projection?, change: ChangeContext,
        _ transform: @escaping @Sendable ([String: JSONValue]) throws -> ([String: JSONValue], [MembershipChange])
    ) async throws -> StoredResource? {
        let user = try await users.update(tenant: tenant, id: id, precondition: precondition, change: change) { try transform($0).0 }
        guard let user, projection?.mayReturn("groups") == true else { return user }
        return try await users.withGroupsLoaded([user], tenant: tenant).first
    }

    func delete(tenant: UUID, id: UUID, precondition: VersionPrecondition?, change: ChangeContext) async throws -> Bool {
        try await users.delete(tenant: tenant, id: id, precondition: precondition, change: change)
    }

    func list(tenant: UUID, query: ResourceQuery, projection: Projection) async throws -> ResourcePage<StoredResource> {
        try await users.list(tenant: tenant, query: query)
    }

    func listByCursor(tenant: UUID, query: ResourceQuery, projection: Projection) async throws -> CursorPage<StoredResource> {
        try await users.listByCursor(tenant: tenant, query: query)
    }

    func render(_ user: StoredResource) -> (JSONValue, ResourceMeta) {
        let meta = meta(id: user.id, user)
        var body = user.body
        // RFC 7643 §4.1.2: `groups` is computed from memberships, `type` direct or indirect.
        if let groups = user.groups, !groups.isEmpty {
            body["groups"] = .array(groups.map { group in
                let id = group.id.uuidString.lowercased()
                return [
                    "value": .string(id), "$ref": .string("\(baseURL)/Groups/\(id)"),
                    "display": .string(group.display), "type": .string(group.direct ? "direct" : "indirect"),
                ]
            })
        }
        return (resourceType.render(id: user.id, body: body, meta: meta), meta)
    }
}

struct GroupBackend: ResourceBackend {
    let groups: GroupRepository
    let resourceType: ResourceType
    let baseURL: String
    /// Members the groups of one list page may have together (`WorkLimits.groupListMemberBudget`).
    var memberBudget = Int.max
    let patchAnswersNoContent = true

    func create(
        tenant: UUID, body: [String: JSONValue], membership: [MembershipChange], projection: Projection, change: ChangeContext
    ) async throws -> StoredGroup {
        try await groups.create(tenant: tenant, body: body, membership: membership, withMembers: projection.mayReturn("members"), change: change)
    }

    func get(tenant: UUID, id: UUID, projection: Projection?) async throws -> StoredGroup? {
        try await groups.get(tenant: tenant, id: id, withMembers: projection?.mayReturn("members") ?? false)
    }

    func update(
        tenant: UUID, id: UUID, precondition: VersionPrecondition?, projection: Projection?, change: ChangeContext,
        _ transform: @escaping @Sendable ([String: JSONValue]) throws -> ([String: JSONValue], [MembershipChange])
    ) async throws -> StoredGroup? {
        try await groups.update(
            tenant: tenant, id: id, precondition: precondition, withMembers: projection?.mayReturn("members") ?? false, change: change,
            transform)
    }

    func delete(tenant: UUID, id: UUID, precondition: VersionPrecondition?, change: ChangeContext) async throws -> Bool {
        try await groups.delete(tenant: tenant, id: id, precondition: precondition, change: change)
    }

    func list(tenant: UUID, query: ResourceQuery, projection: Projection) async throws -> ResourcePage<StoredGroup> {
        try await groups.list(tenant: tenant, query: query, withMembers: projection.mayReturn("members"), memberBudget: memberBudget)
    }

    func listByCursor(tenant: UUID, query: ResourceQuery, projection: Projection) async throws -> CursorPage<StoredGroup> {
        try await groups.listByCursor(tenant: tenant, query: query, withMembers: projection.mayReturn("members"), memberBudget: memberBudget)
    }

    func render(_ group: StoredGroup) -> (JSONValue, ResourceMeta) {
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
        let meta = meta(id: group.resource.id, group.resource)
        return (resourceType.render(id: group.resource.id, body: body, meta: meta), meta)
    }
}
