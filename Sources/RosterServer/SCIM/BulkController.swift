import Foundation
import Hummingbird
import Logging
import RosterAuth
import RosterStore
import SCIM

/// `POST /scim/v2/Bulk` (RFC 7644 §3.7): each operation is performed as its own request would be;
/// `BulkProcessor` orders them and resolves `bulkId` references. A run of consecutive user POSTs
/// that refer to no bulkId is validated one by one and written together in one transaction of a few
/// statements (`ResourceWrites.createMany`); every other operation runs in its own transaction.
struct BulkController {
    let targets: [String: any BulkTarget]
    let users: ResourceWrites<UserBackend>
    let baseURL: String

    init(users: ResourceWrites<UserBackend>, groups: ResourceWrites<GroupBackend>, baseURL: String) {
        targets = ["Users": users, "Groups": groups]
        self.users = users
        self.baseURL = baseURL
    }

    func addRoutes(to group: RouterGroup<ScimRequestContext>) {
        group.post("Bulk", use: bulk)
    }

    @Sendable func bulk(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let bulk = try BulkRequest(try await request.scimJSON(context: context))
        // Every operation's events share the request's transaction id.
        let change = ChangeContext(principal)
        let tenant = principal.tenantID, logger = context.logger
        let results = await BulkProcessor(bulk).run(
            batchable: { $0.method == .post && $0.target == ("Users", nil) },
            performBatch: { operations, errorBudget in
                await createUsers(operations, errorBudget: errorBudget, tenant: tenant, change: change, logger: logger)
            },
            perform: { operation in await perform(operation, tenant: tenant, change: change, logger: logger) })
        return ScimResponse.json(.ok, BulkRequest.response(results))
    }

    /// User POSTs written together; should that write fail (nothing was written), each runs alone,
    /// so every operation still gets the answer its own request would have had.
    private func createUsers(
        _ operations: [BulkRequest.Operation], errorBudget: Int?, tenant: UUID, change: ChangeContext, logger: Logger
    ) async -> [BulkResult] {
        do {
            return try await users.createMany(
                tenant: tenant, inputs: operations.map { $0.data ?? .null }, errorBudget: errorBudget, change: change, logger: logger)
        } catch {
            logger.notice("A Bulk run of user POSTs could not be written together; performing them one by one", metadata: [
                "operations": "\(operations.count)", "error": "\(String(reflecting: type(of: error)))",
            ])
        }
        var results: [BulkResult] = []
        var errors = 0
        for operation in operations {
            let result = await perform(operation, tenant: tenant, change: change, logger: logger)
            results.append(result)
            if !result.succeeded {
                errors += 1
                if let errorBudget, errors >= errorBudget { break }
            }
        }
        return results
    }

    private func perform(_ operation: BulkRequest.Operation, tenant: UUID, change: ChangeContext, logger: Logger) async -> BulkResult {
        let (endpoint, id) = operation.target
        // RFC 7644 §3.7: a location on every result but a failed POST.
        let location = operation.method == .post ? nil : id.map { "\(baseURL)/\(endpoint)/\($0)" }
        guard let target = targets[endpoint] else {
            return .failed(.notFound("There is no resource type at /\(endpoint)."), location: location)
        }
        do {
            if let id, UUID(uuidString: id) == nil { throw ScimError.notFound("\(endpoint) \(id) not found.") }
            return try await target.perform(
                operation.method, tenant: tenant, id: id.flatMap(UUID.init(uuidString:)), input: operation.data ?? .null,
                precondition: ScimController.precondition(operation.version), change: change)
        } catch {
            return .failed(Problem(error, logger: logger).scimError, location: location)
        }
    }
}

/// A resource type as Bulk operations reach it.
protocol BulkTarget: Sendable {
    /// `id` is nil for the collection (POST) and set for a resource (PUT, PATCH, DELETE).
    func perform(
        _ method: BulkRequest.Operation.Method, tenant: UUID, id: UUID?, input: JSONValue, precondition: VersionPrecondition?,
        change: ChangeContext
    ) async throws -> BulkResult
}
