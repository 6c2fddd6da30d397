import Foundation
import PostgresNIO
import SCIM

/// SQL text with bound parameters, built from trusted fragments and bound values only.
struct SQLBuilder {
    private(set) var sql = ""
    private(set) var bindings = PostgresBindings()

    /// Appends trusted SQL text: never anything a client sent.
    mutating func append(_ trusted: String) {
        sql += trusted
    }

    /// Binds a value and appends its placeholder.
    mutating func bind(_ value: some PostgresNonThrowingEncodable) {
        bindings.append(value)
        sql += "$\(bindings.count)"
    }

    var query: PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: bindings) }
}

/// A filterable attribute: the indexed column that answers `eq` on it.
struct FilterColumn {
    var column: String
    var caseExact: Bool
    var isID = false
}

/// Compiles the filters this build answers from indexed columns into a WHERE fragment.
///
/// Supported: `eq` on the columns the resource type maps, combined with `and`, `or`, `not`.
/// Anything else is `invalidFilter`, never a silently widened or in-memory filter.
struct FilterCompiler {
    let resourceType: ResourceType
    let columns: [String: FilterColumn]

    func compile(_ filter: Filter, into sql: inout SQLBuilder) throws(ScimError) {
        switch filter {
        case .and(let left, let right), .or(let left, let right):
            sql.append("(")
            try compile(left, into: &sql)
            if case .and = filter { sql.append(" AND ") } else { sql.append(" OR ") }
            try compile(right, into: &sql)
            sql.append(")")
        case .not(let inner):
            sql.append("NOT (")
            try compile(inner, into: &sql)
            sql.append(")")
        case .present(let path):
            throw .invalidFilter("'\(path) pr' is not supported by this server yet; supported: eq on \(supported).")
        case .comparison(let path, let op, let value):
            guard let column = column(for: path) else {
                throw .invalidFilter("Filtering on '\(path)' is not supported by this server yet; supported: eq on \(supported).")
            }
            guard op == .eq else {
                throw .invalidFilter("The '\(op.rawValue)' operator is not supported by this server yet; supported: eq on \(supported).")
            }
            guard case .string(let string) = value else {
                throw .invalidFilter("'\(path)' is a string attribute; compare it with a quoted string.")
            }
            if column.isID {
                // An id that is not a UUID matches nothing rather than failing.
                guard let id = UUID(uuidString: string) else { sql.append("FALSE"); return }
                sql.append("\(column.column) = ")
                sql.bind(id)
            } else if column.caseExact {
                sql.append("\(column.column) = ")
                sql.bind(string)
            } else {
                sql.append("lower(\(column.column)) = lower(")
                sql.bind(string)
                sql.append(")")
            }
        }
    }

    private var supported: String { columns.keys.sorted().joined(separator: ", ") }

    private func column(for path: AttributePath) -> FilterColumn? {
        if let schema = path.schema, schema.lowercased() != resourceType.schema.id.lowercased() { return nil }
        guard path.subAttribute == nil else { return nil }
        return columns.first { $0.key.lowercased() == path.attribute.lowercased() }?.value
    }
}
