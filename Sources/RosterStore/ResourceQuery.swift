import Foundation
import PostgresNIO
import SCIM

/// What a list or search asks for (RFC 7644 §3.4.2): filter, sort and page.
public struct ResourceQuery: Sendable {
    public var filter: Filter?
    public var sortBy: AttributePath?
    public var descending: Bool
    public var page: Pagination

    public init(filter: Filter? = nil, sortBy: AttributePath? = nil, descending: Bool = false, page: Pagination = .init()) {
        self.filter = filter
        self.sortBy = sortBy
        self.descending = descending
        self.page = page
    }
}

/// An `If-Match` precondition (RFC 7644 §3.14): the versions a write may apply to.
public struct VersionPrecondition: Sendable, Equatable {
    public var versions: Set<Int64>

    public init(versions: Set<Int64>) {
        self.versions = versions
    }

    func check(_ current: Int64) throws(ScimError) {
        guard versions.contains(current) else {
            throw .preconditionFailed("The resource has changed: its version is W/\"\(current)\", not the one in If-Match.")
        }
    }
}

extension FilterCompiler {
    /// The ORDER BY expression for `sortBy` (RFC 7644 §3.4.2.3): typed like the attribute,
    /// case-folded where it is not caseExact; a multi-valued attribute sorts by its primary (or first) value.
    func sortExpression(_ path: AttributePath, into sql: inout SQLBuilder) throws(ScimError) {
        let location: Location
        do {
            location = try resolve(path)
        } catch {
            throw .invalidValue("Cannot sort by '\(path)': \(error.detail)")
        }
        switch location {
        case .id:
            sql.append("id")
        case .column(let column, let type):
            sql.append(type == .string && column != "external_id" ? "lower(\(column))" : column)
        case .json(let keys, let attribute):
            guard attribute.type != .complex else { throw .invalidValue("Cannot sort by the complex attribute '\(path)'.") }
            Self.typed(attribute, into: &sql) { jsonPath(keys, text: true, into: &$0) }
        case .elements(let keys, _, let sub?):
            sql.append("(SELECT ")
            Self.typed(sub, into: &sql) { sql in
                sql.append("e.v ->> ")
                sql.bind(sub.name)
            }
            sql.append(" FROM jsonb_array_elements(")
            jsonPath(keys, text: false, into: &sql)
            sql.append(") WITH ORDINALITY AS e(v, n) ORDER BY coalesce((e.v ->> 'primary') = 'true', false) DESC, n LIMIT 1)")
        case .elements, .members:
            throw .invalidValue("Cannot sort by '\(path)'.")
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
    /// Runs the count and, when a page is asked for, the page query with the same condition.
    static func fetch(table: ResourceTable, resourceType: ResourceType, tenant: UUID, query: ResourceQuery, database: RosterDatabase) async throws -> Self {
        let compiler = FilterCompiler(resourceType: resourceType, table: table)
        var condition = SQLBuilder()
        condition.append(" WHERE tenant_id = ")
        condition.bind(tenant)
        if let filter = query.filter {
            condition.append(" AND ")
            try compiler.compile(filter, into: &condition)
        }
        let total = try await database.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table.name)" + condition.sql, binds: condition.bindings))
            .first?.decode(Int.self) ?? 0
        let page = query.page
        guard page.count > 0, total >= page.startIndex else { return ResourcePage(totalResults: total, resources: []) }
        var select = condition
        select.append(" ORDER BY ")
        if let sortBy = query.sortBy {
            try compiler.sortExpression(sortBy, into: &select)
            select.append(query.descending ? " DESC NULLS LAST, id DESC" : " ASC NULLS LAST, id ASC")
        } else {
            select.append("created, id")
        }
        select.append(" LIMIT ")
        select.bind(page.count)
        select.append(" OFFSET ")
        select.bind(page.startIndex - 1)
        let sql = "SELECT \(StoredResource.columns) FROM \(table.name)" + select.sql
        let resources = try await StoredResource.decode(database.query(PostgresQuery(unsafeSQL: sql, binds: select.bindings)))
        return ResourcePage(totalResults: total, resources: resources)
    }
}
