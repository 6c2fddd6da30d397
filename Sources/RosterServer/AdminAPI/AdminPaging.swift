import Foundation
import RosterAuth
import RosterStore

/// `cursor` and `limit` of the admin API's lists (`ListCursor`), each refusal a 400 that says what is expected.
enum AdminPaging {
    static let limits = 1...500
    static let defaultLimit = 100

    /// `limit`, or the default without one.
    static func limit(_ limit: Int?) throws -> Int {
        guard let limit else { return defaultLimit }
        guard limits.contains(limit) else {
            throw AdminError.invalidRequest("'limit' must be between \(limits.lowerBound) and \(limits.upperBound).")
        }
        return limit
    }

    /// The position `cursor` names (nil without one), read by `position`, which refuses a cursor of another list or scope.
    static func position<Position>(_ cursor: String?, _ position: (String) -> Position?) throws -> Position? {
        guard let cursor else { return nil }
        guard let found = position(cursor) else {
            throw AdminError.invalidRequest(
                "'cursor' must be the next_cursor of an earlier answer of this same list (the same path, tenant and role); start again without it.")
        }
        return found
    }
}

extension AdminPrincipal {
    /// The tenants on which `scope` is held, for a list's filter; nil when it is held globally (every tenant).
    func tenants(holding scope: AdminScope) -> [UUID]? {
        allowsGlobally(scope) ? nil : grants.tenants.keys.filter { allows(scope, in: $0) }
    }
}
