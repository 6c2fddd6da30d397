import Foundation
import PostgresNIO
import SCIM

extension CursorPage where Resource == StoredResource {
    /// RFC 9865 pages as keyset queries on (sort key, id): page 1 000 reads what page 1 reads.
    ///
    /// Rows sort by (key IS NULL, key, id), so NULL keys come last and every row has one place;
    /// the next page starts strictly after the last row's (null flag, key, id), and the previous
    /// page ends strictly before the first row's.
    static func fetch(
        table: ResourceTable, resourceType: ResourceType, tenant: UUID, query: ResourceQuery, database: RosterDatabase,
        countLimit: Int = ResourcePage<StoredResource>.countLimit
    ) async throws -> Self {
        let compiler = FilterCompiler(resourceType: resourceType, table: table, tenant: tenant)
        let notNull = query.sortBy.map { ["id", "username"].contains($0.attribute.lowercased()) && $0.subAttribute == nil && $0.schema == nil } ?? true
        func key(into sql: inout SQLBuilder) throws(StoreError) -> String {
            guard let sortBy = query.sortBy else {
                sql.append("created")
                return "timestamptz"
            }
            return try compiler.sortExpression(sortBy, into: &sql)
        }
        // Cursor clients stop where nextCursor ends, not at totalResults: it counts at most
        // `countLimit` rows (exact below that, a lower bound above), or none when the first page holds them all.
        func total() async throws -> Int {
            try await compiler.count(try compiler.condition(query.filter, tenant: tenant), limit: countLimit + 1, database: database)
        }
        let count = query.page.count
        guard count > 0 else { return CursorPage(totalResults: try await total(), resources: [], next: nil) }

        // A previous page is read backwards from its cursor's row, then turned round.
        let backward = query.cursor?.backward ?? false
        let ascending = query.descending == backward
        let (beyond, direction) = ascending ? (">", "ASC") : ("<", "DESC")
        var select = SQLBuilder()
        select.append("SELECT \(StoredResource.columns)\(table.listColumns), (")
        let type = try key(into: &select)
        select.append(")::text AS sort_key FROM \(table.name)")
        try compiler.appendCondition(query.filter, tenant: tenant, into: &select)
        if let position = query.cursor {
            /// `((key) beyond saved OR ((key) = saved AND id beyond the row's))`
            func beyondRow(_ saved: String) throws(StoreError) {
                select.append("((")
                _ = try key(into: &select)
                select.append(") \(beyond) ")
                select.bind(saved)
                select.append("::\(type) OR ((")
                _ = try key(into: &select)
                select.append(") = ")
                select.bind(saved)
                select.append("::\(type) AND id \(beyond) ")
                select.bind(position.id)
                select.append("))")
            }
            // NULL keys sort after every other key, whichever the direction.
            select.append(" AND ((")
            _ = try key(into: &select)
            switch (position.key, backward) {
            case (let saved?, false):
                select.append(") IS NULL OR ")
                try beyondRow(saved)
            case (let saved?, true):
                select.append(") IS NOT NULL AND ")
                try beyondRow(saved)
            case (nil, false):
                select.append(") IS NULL AND id \(beyond) ")
                select.bind(position.id)
            case (nil, true):
                select.append(") IS NOT NULL OR id \(beyond) ")
                select.bind(position.id)
            }
            select.append(")")
        }
        select.append(" ORDER BY ")
        // A key that is never NULL orders without the null flag, so its index can serve the page.
        if query.sortBy != nil && !notNull {
            select.append("(")
            _ = try key(into: &select)
            select.append(") IS NULL\(backward ? " DESC" : ""), ")
        }
        select.append("(")
        _ = try key(into: &select)
        select.append(") \(direction), id \(direction) LIMIT ")
        select.bind(count + 1)

        let rows = try await database.checkedQuery(select.query)  // token re-check of a cache-authenticated read (ScimTokenCache)
        let page = backward ? Array(rows.prefix(count).reversed()) : Array(rows.prefix(count))
        let more = rows.count > count
        func position(_ row: PostgresRow?, backward: Bool) throws -> CursorPosition? {
            guard let columns = row?.makeRandomAccess() else { return nil }
            return CursorPosition(key: try columns["sort_key"].decode(String?.self), id: try columns[0].decode(UUID.self), backward: backward)
        }
        // Forwards, there are rows before a page reached by a cursor; backwards, rows after it.
        let next = backward || more ? try position(page.last, backward: false) : nil
        let previous = (backward ? more : query.cursor != nil) ? try position(page.first, backward: true) : nil
        let whole = query.cursor == nil && !more
        return CursorPage(
            totalResults: whole ? page.count : try await total(), resources: try StoredResource.decode(page), next: next, previous: previous)
    }
}
