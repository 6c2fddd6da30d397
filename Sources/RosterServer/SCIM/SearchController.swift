import Hummingbird
import RosterAuth
import RosterStore
import SCIM

/// `POST /scim/v2/.search` (RFC 7644 §3.4.3): one query over Users then Groups.
///
/// Results list the matching users first, then the matching groups; `startIndex` and `count`
/// page through that sequence. A filter naming an attribute only one type has matches nothing
/// of the other type, rather than failing the whole search.
struct SearchController {
    let users: ResourceController<UserBackend>
    let groups: ResourceController<GroupBackend>

    func addRoutes(to group: RouterGroup<ScimRequestContext>) {
        group.post(".search", use: search)
    }

    @Sendable func search(_ request: Request, context: ScimRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let list = try ScimController.ListRequest(search: try await request.scimJSON(context: context), limits: users.settings.pageSizes)
        guard list.cursor == nil else {
            throw ScimError.invalidValue("Cursor pagination works per resource type: search /Users/.search or /Groups/.search.")
        }
        let tenant = principal.tenantID
        var counting = list.query
        counting.page = Pagination(startIndex: 1, count: 0)
        counting.exactTotal = true  // the split below needs the users' exact total
        let userTotal = try await total { try await users.page(tenant: tenant, query: counting, projection: list.projection).total }
        let groupTotal = try await total { try await groups.page(tenant: tenant, query: counting, projection: list.projection).total }
        guard userTotal != nil || groupTotal != nil else {
            // Neither type knows the filter's attributes: report the users' error.
            _ = try await users.page(tenant: tenant, query: counting, projection: list.projection)
            return ScimController.listResponse(totalResults: 0, startIndex: list.query.page.startIndex, resources: [])
        }
        let (start, count) = (list.query.page.startIndex, list.query.page.count)
        var resources: [JSONValue] = []
        if let userTotal, start <= userTotal, count > 0 {
            var query = list.query
            query.page = Pagination(startIndex: start, count: min(count, userTotal - start + 1))
            resources += try await users.page(tenant: tenant, query: query, projection: list.projection).resources
        }
        if let groupTotal, resources.count < count {
            var query = list.query
            query.page = Pagination(startIndex: max(1, start - (userTotal ?? 0)), count: count - resources.count)
            if query.page.startIndex <= groupTotal {
                resources += try await groups.page(tenant: tenant, query: query, projection: list.projection).resources
            }
        }
        return ScimController.listResponse(totalResults: (userTotal ?? 0) + (groupTotal ?? 0), startIndex: start, resources: resources)
    }

    /// The count, or nil when the filter names attributes this type does not have.
    private func total(_ count: () async throws -> Int) async throws -> Int? {
        do {
            return try await count()
        } catch StoreError.invalidFilter(let detail) where detail.hasPrefix("Unknown ") {
            return nil
        }
    }
}
