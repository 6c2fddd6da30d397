import Foundation
import RosterAuth
import RosterStore

/// `/api/v1/tenants/{tenant}/groups/{group}/members/{member}`: the membership probe.
struct DirectoryHandler: Sendable {
    let tenants: TenantRepository
    let groups: GroupRepository

    func getGroupMembership(_ input: Operations.GetGroupMembership.Input) async throws -> Operations.GetGroupMembership.Output {
        let principal = try AuthenticatedAdmin.require(.directoryRead)
        let tenant = try await tenants.tenant(named: input.path.tenant, for: principal, scope: .directoryRead)
        guard let group = UUID(uuidString: input.path.group), let member = UUID(uuidString: input.path.member),
            let membership = try await groups.membership(tenant: tenant.id, group: group, member: member)
        else { throw AdminError.notFound("No such group or member in tenant '\(tenant.name)'.") }
        return .ok(.init(body: .json(.init(
            groupId: group.uuidString.lowercased(), memberId: member.uuidString.lowercased(),
            member: membership != .notMember, direct: membership == .direct))))
    }
}

extension AdminAPI {
    func getGroupMembership(_ input: Operations.GetGroupMembership.Input) async throws -> Operations.GetGroupMembership.Output {
        try await directory.getGroupMembership(input)
    }
}
