import Foundation
import PostgresNIO
import SCIM

extension CursorPage where Resource == StoredResource {
    /// RFC 9865 pages as keyset queries on (sort key, id): page 1 000 reads what page 1 reads.
    ///
    /// Rows sort by (key IS NULL, key, id), so NULL keys come last and every row has one place;
    /// the next page starts strictly after the last row's (null flag, key, id).
    static func fetch(
        table: ResourceTable, resourceType: ResourceType, tenant: UUID, query: ResourceQuery, database: RosterDatabase
    ) async throws -> Self {
        let compiler = FilterCompiler(resourceType: resourceType, table: table, tenant: tenant)
        let notNull = query.sortBy.map { ["id", "username"].contains($0.attribute.lowercased()) && $0.subAttribute == nil && $0.schema == nil } ?? true
        func key(into sql: inout SQLBuilder) throws(ScimError) -> String {
            guard let sortBy = query.sortBy else {
                sql.append("created")
                return "timestamptz"
            }
            return try compiler.sortExpression(sortBy, into: &sql)
        }
        let total = try await compiler.count(try compiler.condition(query.filter, tenant: tenant), database: database)
        let count = query.page.count
        guard count > 0 else { return CursorPage(totalResults: total, resources: [], next: nil) }

        var select = SQLBuilder()
        select.append("SELECT \(StoredResource.columns)\(table.listColumns), (")
        let type = try key(into: &select)
        select.append(")::text AS sort_key FROM \(table.name)")
        try compiler.appendCondition(query.filter, tenant: tenant, into: &select)
        let (before, after) = query.descending ? ("<", "DESC") : (">", "ASC")
        if let position = query.cursor {
            select.append(" AND ")
            if let saved = position.key {
                select.append("((")
                _ = try key(into: &select)
                select.append(") IS NULL OR (")
                _ = try key(into: &select)
                select.append(") \(before) ")
                select.bind(saved)
                select.append("::\(type) OR ((")
                _ = try key(into: &select)
                select.append(") = ")
                select.bind(saved)
                select.append("::\(type) AND id \(before) ")
                select.bind(position.id)
                select.append("))")
            } else {
                select.append("((")
                _ = try key(into: &select)
                select.append(") IS NULL AND id \(before) ")
                select.bind(position.id)
                select.append(")")
            }
        }
        select.append(" ORDER BY ")
        // A key that is never NULL orders without the null flag, so its index can serve the page.
        if query.sortBy != nil && !notNull {
            select.append("(")
            _ = try key(into: &select)
            select.append(") IS NULL, ")
        }
        select.append("(")
        _ = try key(into: &select)
        select.append(") \(after), id \(after) LIMIT ")
        select.bind(count + 1)

        let rows = try await database.query(select.query)
        let resources = try StoredResource.decode(Array(rows.prefix(count)))
        var next: CursorPosition?
        if rows.count > count, let last = rows.prefix(count).last {
            let columns = last.makeRandomAccess()
            next = CursorPosition(key: try columns["sort_key"].decode(String?.self), id: try columns[0].decode(UUID.self))
        }
        return CursorPage(totalResults: total, resources: resources, next: next)
    }
}
