import Foundation
import Logging
import RosterStore
import SCIM

/// The SCIM writes of one resource type (RFC 7644 §3.3, §3.5, §3.6), as the routes and Bulk both perform
/// them: validate, split off members (the members rule, `SCIM/MembershipChange.swift`), write through the
/// repository, which patches (`PatchEngine`) and appends the events in its transaction. No HTTP here:
/// values in, stored values or `ScimError`/`StoreError` out.
struct ResourceWrites<Backend: ResourceBackend>: Sendable {
    let backend: Backend

    var type: ResourceType { backend.resourceType }

    func create(tenant: UUID, input: JSONValue, projection: Projection, change: ChangeContext) async throws -> Backend.Stored {
        let validated = try ResourceValidator(resourceType: type).validate(input)
        let (body, membership) = try type.separatingMembers(validated, on: .create)
        return try await backend.create(tenant: tenant, body: body, membership: membership, projection: projection, change: change)
    }

    /// `projection` says what the caller will show of the result (nil: nothing).
    func replace(
        tenant: UUID, id: UUID, input: JSONValue, precondition: VersionPrecondition?, projection: Projection?, change: ChangeContext
    ) async throws -> Backend.Stored {
        let type = self.type
        // Validated against the stored body, inside the write's transaction.
        return try await updated(tenant: tenant, id: id, precondition: precondition, projection: projection, change: change) {
            try type.separatingMembers(try ResourceValidator(resourceType: type).validate(input, existing: $0), on: .replace)
        }
    }

    func patch(
        tenant: UUID, id: UUID, input: JSONValue, precondition: VersionPrecondition?, projection: Projection?, change: ChangeContext
    ) async throws -> Backend.Stored {
        let patch = try PatchRequest(input)
        let engine = PatchEngine(resourceType: type)
        return try await updated(tenant: tenant, id: id, precondition: precondition, projection: projection, change: change) {
            let outcome = try engine.apply(patch, to: $0)
            return (outcome.body, outcome.membershipChanges)
        }
    }

    private func updated(
        tenant: UUID, id: UUID, precondition: VersionPrecondition?, projection: Projection?, change: ChangeContext,
        _ transform: @escaping @Sendable ([String: JSONValue]) throws -> ([String: JSONValue], [MembershipChange])
    ) async throws -> Backend.Stored {
        guard let stored = try await backend.update(
            tenant: tenant, id: id, precondition: precondition, projection: projection, change: change, transform)
        else {
            throw ScimError.resourceNotFound(type.name, id)
        }
        return stored
    }

    func delete(tenant: UUID, id: UUID, precondition: VersionPrecondition?, change: ChangeContext) async throws {
        guard try await backend.delete(tenant: tenant, id: id, precondition: precondition, change: change) else {
            throw ScimError.resourceNotFound(type.name, id)
        }
    }
}
