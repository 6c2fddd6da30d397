import Foundation
import PostgresNIO
import RosterAuth
public import SCIM

/// What a list or search asks for (RFC 7644 §3.4.2): filter, sort and page.
public struct ResourceQuery: Sendable {
    public var filter: Filter?
    public var sortBy: AttributePath?
    public var descending: Bool
    public var page: Pagination
    /// RFC 9865: page by keyset from this position (nil with `cursorMode`: the first page).
    public var cursor: CursorPosition?
    public var cursorMode: Bool
    /// Count every match, however many (see `ResourcePage.compiled`): the root `/.search` splits its
    /// pages between users and groups at the users' total.
    public var exactTotal: Bool

    public init(
        filter: Filter? = nil, sortBy: AttributePath? = nil, descending: Bool = false, page: Pagination = .init(),
        cursor: CursorPosition? = nil, cursorMode: Bool = false, exactTotal: Bool = false
    ) {
        self.filter = filter
        self.sortBy = sortBy
        self.descending = descending
        self.page = page
        self.cursor = cursor
        self.cursorMode = cursorMode
        self.exactTotal = exactTotal
    }
}

/// A page of a cursor-paginated query and where the next page starts.
public struct CursorPage<Resource: Sendable>: Sendable {
    public var totalResults: Int
    public var resources: [Resource]
    /// nil on the last page.
    public var next: CursorPosition?
    /// nil on the first page (or when no page before this one is known).
    public var previous: CursorPosition?

    public init(totalResults: Int, resources: [Resource], next: CursorPosition?, previous: CursorPosition? = nil) {
        self.totalResults = totalResults
        self.resources = resources
        self.next = next
        self.previous = previous
    }
}

/// An `If-Match` precondition (RFC 7644 §3.14): the versions a write may apply to.
public struct VersionPrecondition: Sendable, Equatable {
    public var versions: Set<Int64>

    public init(versions: Set<Int64>) {
        self.versions = versions
    }

    func check(_ current: Int64) throws(StoreError) {
        guard versions.contains(current) else { throw .versionMismatch(current: current) }
    }
}

extension FilterCompiler {
    /// ` WHERE tenant_id = $1 [AND <filter>]`: every list query's condition.
    func condition(_ filter: Filter?, tenant: UUID) throws(StoreError) -> SQLBuilder {
        var condition = SQLBuilder()
        try appendCondition(filter, tenant: tenant, into: &condition)
        return condition
    }

    /// The same condition, appended where the builder stands (its placeholders follow what is bound).
    func appendCondition(_ filter: Filter?, tenant: UUID, into sql: inout SQLBuilder) throws(StoreError) {
        sql.append(" WHERE tenant_id = ")
        sql.bind(tenant)
        if let filter {
            sql.append(" AND ")
            try compile(filter, into: &sql)
        }
    }

    /// How many rows of the table match `condition`; with `limit`, counting stops there
    /// (the answer is then min(matching rows, limit)).
    func count(_ condition: SQLBuilder, limit: Int? = nil, database: RosterDatabase) async throws -> Int {
        var sql = condition
        guard let limit else {
            return try await database.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table.name)" + sql.sql, binds: sql.bindings))
                .first?.decode(Int.self) ?? 0
        }
        sql.append(" LIMIT ")
        sql.bind(limit)
        return try await database.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM (SELECT 1 FROM \(table.name)" + sql.sql + ") AS counted", binds: sql.bindings))
            .first?.decode(Int.self) ?? 0
    }

    /// The ORDER BY expression for `sortBy` (RFC 7644 §3.4.2.3): typed like the attribute,
    /// case-folded where it is not caseExact; a multi-valued attribute sorts by its primary (or first) value.
    /// Returns the SQL type a cursor's saved key is cast back to.
    @discardableResult
    func sortExpression(_ path: AttributePath, into sql: inout SQLBuilder) throws(StoreError) -> String {
        let location: Location
        do {
            location = try resolve(path)
        } catch {
            throw .invalidSort("Cannot sort by '\(path)': \(error.description)")
        }
        switch location {
        case .id:
            sql.append("id")
            return "uuid"
        case .column(let column, let type):
            sql.append(type == .string && column != "external_id" ? "lower(\(column))" : column)
            return Self.sqlType(type)
        case .json(let keys, let attribute):
            guard attribute.type != .complex else { throw .invalidSort("Cannot sort by the complex attribute '\(path)'.") }
            Self.typed(attribute, into: &sql) { jsonPath(keys, text: true, into: &$0) }
            return Self.sqlType(attribute.type)
        case .elements(let keys, _, let sub?):
            sql.append("(SELECT ")
            Self.typed(sub, into: &sql) { sql in
                sql.append("e.v ->> ")
                sql.bind(sub.name)
            }
            sql.append(" FROM jsonb_array_elements(")
            jsonPath(keys, text: false, into: &sql)
            sql.append(") WITH ORDINALITY AS e(v, n) ORDER BY coalesce((e.v ->> 'primary') = 'true', false) DESC, n LIMIT 1)")
            return Self.sqlType(sub.type)
        case .elements, .members, .userGroups:
            throw .invalidSort("Cannot sort by '\(path)'.")
        }
    }

    static func sqlType(_ type: SchemaAttribute.DataType) -> String {
        switch type {
        case .integer, .decimal: "numeric"
        case .dateTime: "timestamptz"
        case .boolean: "boolean"
        default: "text"
        }
    }

    private static func typed(_ attribute: SchemaAttribute, into sql: inout SQLBuilder, _ value: (inout SQLBuilder) -> Void) {
        switch attribute.type {
        case .integer, .decimal: sql.append("("); value(&sql); sql.append(")::numeric")
        case .dateTime: sql.append("("); value(&sql); sql.append(")::timestamptz")
        case .boolean: sql.append("("); value(&sql); sql.append(")::boolean")
        default:
            sql.append(attribute.caseExact ? "(" : "lower(")
            value(&sql)
            sql.append(")")
        }
    }
}

extension ResourcePage where Resource == StoredResource {
    /// The IdPs' `attr eq "value"` lookups on an indexed column run as prepared statements: the
    /// same rows the compiled filter finds, without parsing and planning on every request.
    private static func lookup(
        table: ResourceTable, resourceType: ResourceType, tenant: UUID, query: ResourceQuery, database: RosterDatabase
    ) async throws -> Self? {
        guard query.sortBy == nil, query.page.count > 0, let filter = query.filter else { return nil }
        func run<Key: EqualityLookup>(_ key: Key.Type, _ value: String, type: String? = nil) async throws -> Self {
            // Token re-check of a cache-authenticated read: the same statement (see `ScimTokenCache`).
            let credential = CredentialCheck.current
            let checked = try await database.execute(
                HotStatements.Lookup<Key>(tenant: tenant, value: value, type: type, page: query.page, token: credential?.principal.tokenID))
            if let first = checked.first { try credential?.verify(first.live) }
            let rows = checked.compactMap(\.row)
            if rows.isEmpty && query.page.startIndex > 1 {
                return try await compiled(table: table, resourceType: resourceType, tenant: tenant, query: query, database: database, countLimit: countLimit)
            }
            return ResourcePage(totalResults: rows.first?.1 ?? 0, resources: rows.map(\.0))
        }
        let compiler = FilterCompiler(resourceType: resourceType, table: table)
        if table.hasEmailColumn, case .valuePath(let path, let inner) = filter, case .elements(["emails"], _, _) = try compiler.resolve(path),
            let (type, value) = Self.typedValue(inner)
        {
            return try await run(HotStatements.UserTypedEmail.self, value, type: type)
        }
        guard case .comparison(let path, .eq, .string(let value)) = filter else { return nil }
        switch (table.name, try compiler.resolve(path)) {
        case ("users", .column("user_name", _)): return try await run(HotStatements.UserName.self, value)
        case ("users", .column("external_id", _)): return try await run(HotStatements.UserExternalID.self, value)
        case ("users", .column("display_name", _)): return try await run(HotStatements.UserDisplayName.self, value)
        case ("users", .elements(["emails"], _, let sub)) where sub?.name == "value": return try await run(HotStatements.UserEmail.self, value)
        case ("groups", .column("display_name", _)): return try await run(HotStatements.GroupDisplayName.self, value)
        case ("groups", .column("external_id", _)): return try await run(HotStatements.GroupExternalID.self, value)
        default: return nil
        }
    }

    /// `type eq "t" and value eq "v"` (either order) → (t, v).
    private static func typedValue(_ filter: Filter) -> (String, String)? {
        guard case .and(.comparison(let a, .eq, .string(let x)), .comparison(let b, .eq, .string(let y))) = filter,
            a.schema == nil, b.schema == nil, a.subAttribute == nil, b.subAttribute == nil
        else { return nil }
        switch (a.attribute.lowercased(), b.attribute.lowercased()) {
        case ("type", "value"): return (x, y)
        case ("value", "type"): return (y, x)
        default: return nil
        }
    }

    /// The statement of one index page (with its filtered total, when filtered).
    static func pageQuery(compiler: FilterCompiler, condition: SQLBuilder, query: ResourceQuery) throws(StoreError) -> PostgresQuery {
        // Written twice when the page is wrapped (its values bound again).
        func order(into sql: inout SQLBuilder) throws(StoreError) {
            if let sortBy = query.sortBy {
                try compiler.sortExpression(sortBy, into: &sql)
                sql.append(query.descending ? " DESC NULLS LAST, id DESC" : " ASC NULLS LAST, id ASC")
            } else {
                sql.append("created, id")
            }
        }
        var select = condition
        select.append(" ORDER BY ")
        try order(into: &select)
        select.append(" LIMIT ")
        select.bind(query.page.count)
        select.append(" OFFSET ")
        select.bind(query.page.startIndex - 1)
        if compiler.table.wrapsPages {
            select.append(compiler.table.pageClose)
            try order(into: &select)
        }
        return PostgresQuery(unsafeSQL: compiler.table.pageSelect(total: false) + select.sql, binds: select.bindings)
    }

    /// How many rows past a page's start are counted for its totalResults before a lower bound is
    /// given instead (see `total`).
    static var countLimit: Int { 10_000 }

    static func fetch(
        table: ResourceTable, resourceType: ResourceType, tenant: UUID, query: ResourceQuery, database: RosterDatabase,
        countLimit: Int = countLimit
    ) async throws -> Self {
        if let page = try await lookup(table: table, resourceType: resourceType, tenant: tenant, query: query, database: database) {
            return page
        }
        return try await compiled(table: table, resourceType: resourceType, tenant: tenant, query: query, database: database, countLimit: countLimit)
    }

    /// A page, then its total (RFC 7644 §3.4.2.4), counted only when the page does not tell it.
    ///
    /// - A page that ends the set tells its total (startIndex - 1 + its rows): no count at all. So do
    ///   the IdPs' filters (`userName eq`, `externalId eq`, `members[value eq]`, …), which match a row or two.
    /// - An unfiltered list in the default order is what a client pages through to enumerate the tenant
    ///   (Okta's import), stopping at totalResults: its total is always exact, a count of the tenant's
    ///   rows on an index.
    /// - Any other page (sorted, or filtered) counts at most `countLimit` rows past its start: exact
    ///   when the set ends within them, otherwise `startIndex + countLimit` as a lower bound, which
    ///   grows as the client pages on, so a client that reads totalResults from each page never
    ///   stops early. A sorted page of 100 over 100 000 users then counts 10 001 index entries, not 100 000.
    /// - `exactTotal` counts every match.
    private static func compiled(
        table: ResourceTable, resourceType: ResourceType, tenant: UUID, query: ResourceQuery, database: RosterDatabase,
        countLimit: Int
    ) async throws -> Self {
        let compiler = FilterCompiler(resourceType: resourceType, table: table, tenant: tenant)
        let condition = try compiler.condition(query.filter, tenant: tenant)
        let page = query.page
        let offset = page.startIndex - 1
        func total() async throws -> Int {
            if query.exactTotal || (query.filter == nil && query.sortBy == nil) { return try await compiler.count(condition, database: database) }
            return try await compiler.count(condition, limit: offset + countLimit + 1, database: database)
        }
        guard page.count > 0 else { return ResourcePage(totalResults: try await total(), resources: []) }
        let rows = try await database.checkedQuery(try pageQuery(compiler: compiler, condition: condition, query: query))  // ScimTokenCache
        let resources = try StoredResource.decode(rows)
        if resources.count < page.count && (!resources.isEmpty || offset == 0) {
            return ResourcePage(totalResults: offset + resources.count, resources: resources)
        }
        return ResourcePage(totalResults: try await total(), resources: resources)
    }
}
