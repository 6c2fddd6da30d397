import Foundation
import Logging
import RosterStore
import SCIM

/// The writes as Bulk (RFC 7644 §3.7) reaches them: one operation at a time, or a run of user POSTs together.
extension ResourceWrites {
    /// Bulk: consecutive user POSTs, each validated as `create` validates it, then the valid ones
    /// written together (`UserRepository.createMany`): one result per input, in order, each what a
    /// POST of that input alone would have answered (201 with id, location and version; the
    /// validation error; 409 uniqueness when its userName is taken, also by an earlier input).
    /// `errorBudget` errors end the run: the inputs after the one that spent it get no result and write nothing.
    /// Throws when the write failed; then nothing was written.
    func createMany(
        tenant: UUID, inputs: [JSONValue], errorBudget: Int?, change: ChangeContext, logger: Logger
    ) async throws -> [BulkResult] where Backend == UserBackend {
        let validator = ResourceValidator(resourceType: type)
        var checked: [Result<[String: JSONValue], ScimError>] = []
        checked.reserveCapacity(inputs.count)
        var invalid = 0
        for input in inputs {
            do {
                checked.append(.success(try validator.validate(input)))
            } catch {
                checked.append(.failure(error))
                invalid += 1
                if let errorBudget, invalid >= errorBudget { break }
            }
        }
        let bodies = checked.compactMap { try? $0.get() }
        // Which leading bodies to keep once the conflicts are known: up to the error that spends the budget.
        let validity = checked.map { (try? $0.get()) != nil }
        let keep: @Sendable ([Bool]) -> Int = { inserted in
            guard let errorBudget else { return inserted.count }
            var errors = 0, body = 0
            for valid in validity {
                if valid {
                    body += 1
                    if !inserted[body - 1] { errors += 1 }
                } else {
                    errors += 1
                }
                if errors >= errorBudget { return body }
            }
            return inserted.count
        }
        let created = try await backend.users.createMany(tenant: tenant, bodies: bodies, change: change, keep: keep)
        var results: [BulkResult] = []
        var errors = 0, body = 0
        for check in checked {
            switch check {
            case .failure(let error):
                results.append(.failed(Problem(error, logger: logger).scimError))  // as Bulk answers a failed POST
            case .success:
                guard body < created.count else { return results }  // past the error that ended the run
                if let user = created[body] {
                    let meta = backend.meta(id: user.id, user)
                    results.append(BulkResult(status: 201, id: user.id.uuidString.lowercased(), location: meta.location, version: meta.etag))
                } else {
                    let conflict = StoreError.uniqueness(constraint: UserRepository.userNameConstraint)
                    results.append(.failed(Problem(conflict, logger: logger).scimError))
                }
                body += 1
            }
            if !results[results.count - 1].succeeded {
                errors += 1
                if let errorBudget, errors >= errorBudget { break }
            }
        }
        return results
    }
}

extension ResourceWrites: BulkTarget {
    func perform(
        _ method: BulkRequest.Operation.Method, tenant: UUID, id: UUID?, input: JSONValue, precondition: VersionPrecondition?,
        change: ChangeContext
    ) async throws -> BulkResult {
        let stored: Backend.Stored
        switch (method, id) {
        case (.post, nil):
            // A bulk result shows no resource, so nothing beyond `id` and `meta` is loaded.
            stored = try await create(
                tenant: tenant, input: input, projection: Projection(mode: .only([AttributePath(attribute: "id")])), change: change)
        case (.put, let id?):
            stored = try await replace(tenant: tenant, id: id, input: input, precondition: precondition, projection: nil, change: change)
        case (.patch, let id?):
            stored = try await patch(tenant: tenant, id: id, input: input, precondition: precondition, projection: nil, change: change)
        case (.delete, let id?):
            try await delete(tenant: tenant, id: id, precondition: precondition, change: change)
            let location = "\(backend.baseURL)\(backend.resourceType.endpoint)/\(id.uuidString.lowercased())"
            return BulkResult(status: 204, id: id.uuidString.lowercased(), location: location)
        case (_, nil), (.post, _?):
            let allowed = id == nil ? "POST" : "PUT, PATCH and DELETE"
            throw ScimError(status: 405, detail: "\(method.rawValue) is not allowed here; this path takes \(allowed).")
        }
        let (resource, meta) = backend.render(stored)
        return BulkResult(
            status: method == .post ? 201 : 200, id: resource.objectValue?["id"]?.stringValue, location: meta.location, version: meta.etag)
    }
}
