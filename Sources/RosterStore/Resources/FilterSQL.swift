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

/// How one resource table stores what filters and sorting read.
struct ResourceTable: Sendable {
    /// An indexed column holding a copy of a top-level attribute.
    struct Column: Sendable {
        var name: String
        var type: SchemaAttribute.DataType
    }

    var name: String
    /// Keyed by lowercased attribute name.
    var columns: [String: Column]
    /// Users keep the lowercased `emails.value`s in a GIN-indexed text[] column.
    var hasEmailColumn: Bool
    /// Columns a list selects after `StoredResource.columns`: a user's groups, so no second round trip.
    var listColumns: String = ""

    /// A page's SELECT up to its WHERE. With `listColumns`, the page is a subquery that
    /// `pageClose` ends: computed in the same SELECT, they would also be computed for every row
    /// OFFSET skips, and a prepared lookup's generic plan would look so costly that PostgreSQL
    /// would plan it anew on every call.
    func pageSelect(total: Bool) -> String {
        let count = total ? ", count(*) OVER () AS total" : ""
        guard wrapsPages else { return "SELECT \(StoredResource.columns)\(count) FROM \(name)" }
        return "SELECT \(StoredResource.columns)\(listColumns)\(total ? ", total" : "") FROM (SELECT *\(count) FROM \(name)"
    }

    var wrapsPages: Bool { !listColumns.isEmpty }

    /// Ends a wrapped page; the caller appends the page's ORDER BY terms again.
    var pageClose: String { ") AS \(name) ORDER BY " }

    static let users = ResourceTable(
        name: "users",
        columns: [
            "username": Column(name: "user_name", type: .string),
            "externalid": Column(name: "external_id", type: .string),
            "displayname": Column(name: "display_name", type: .string),
            "active": Column(name: "active", type: .boolean),
        ],
        hasEmailColumn: true, listColumns: ", " + UserGroups.subquery(user: "users") + " AS groups")

    static let groups = ResourceTable(
        name: "groups",
        columns: [
            "externalid": Column(name: "external_id", type: .string),
            "displayname": Column(name: "display_name", type: .string),
        ],
        hasEmailColumn: false)
}

/// Compiles a SCIM filter (RFC 7644 §3.4.2.2) into a parameterised SQL condition over a resource table.
///
/// Attribute paths are resolved against the resource type's schemas (so custom extensions filter
/// without code); indexed columns answer where they exist, jsonb paths elsewhere, `group_members`
/// for members. An absent value is NULL, which WHERE treats as false; `not` is IS NOT TRUE so it
/// means what it says, and comparisons stay bare so indexes apply.
/// Anything unknown, ill-typed or not stored is `invalidFilter`: never a silently widened filter.
struct FilterCompiler {
    let resourceType: ResourceType
    let table: ResourceTable
    /// When known, membership filters start from the group (`groups.value eq`) instead of from each user.
    var tenant: UUID? = nil

    func compile(_ filter: Filter, into sql: inout SQLBuilder) throws(StoreError) {
        try logical(filter, into: &sql) { filter, sql throws(StoreError) in try compileLeaf(filter, into: &sql) }
    }

    /// `and`, `or` and `not` around leaf conditions, the same for every kind of filter.
    /// `not` is IS NOT TRUE: an absent value is NULL inside, and not-NULL must be true.
    func logical(
        _ filter: Filter, into sql: inout SQLBuilder, leaf: (Filter, inout SQLBuilder) throws(StoreError) -> Void
    ) throws(StoreError) {
        switch filter {
        case .and(let left, let right), .or(let left, let right):
            sql.append("(")
            try logical(left, into: &sql, leaf: leaf)
            if case .and = filter { sql.append(" AND ") } else { sql.append(" OR ") }
            try logical(right, into: &sql, leaf: leaf)
            sql.append(")")
        case .not(let inner):
            sql.append("((")
            try logical(inner, into: &sql, leaf: leaf)
            sql.append(") IS NOT TRUE)")
        default:
            try leaf(filter, &sql)
        }
    }

    private func compileLeaf(_ filter: Filter, into sql: inout SQLBuilder) throws(StoreError) {
        switch filter {
        case .and, .or, .not:
            try compile(filter, into: &sql)
        case .present(let path):
            try present(try resolve(path), into: &sql)
        case .comparison(let path, let op, let value):
            try comparison(try resolve(path), op, value, into: &sql)
        case .valuePath(let path, let inner):
            try valuePath(try resolve(path), inner, into: &sql)
        }
    }

    // MARK: - Resolution

    /// Where a path's value lives.
    enum Location {
        case column(String, SchemaAttribute.DataType)
        case id
        /// A jsonb value: the keys from `body` down to it (extension URN, attribute, sub-attribute).
        case json([String], SchemaAttribute)
        /// Elements of a multi-valued attribute, and the sub-attribute compared inside each.
        case elements([String], SchemaAttribute, SchemaAttribute?)
        case members(SchemaAttribute?)
        /// A user's `groups`, computed from `group_members` through nested groups.
        case userGroups(SchemaAttribute?)
    }

    func resolve(_ path: AttributePath) throws(StoreError) -> Location {
        let qualified = path.schema.map { $0 + ":" } ?? ""
        if path.schema == nil || path.schema!.caseInsensitiveEquals(resourceType.schema.id) {
            let name = path.attribute.lowercased()
            if name == "id" && path.subAttribute == nil { return .id }
            if name == "externalid" && path.subAttribute == nil { return .column("external_id", .string) }
            if name == "meta" {
                switch path.subAttribute?.lowercased() {
                case "created": return .column("created", .dateTime)
                case "lastmodified": return .column("last_modified", .dateTime)
                default: throw .invalidFilter("'\(qualified)\(path.attribute).\(path.subAttribute ?? "")' cannot be filtered; use meta.created or meta.lastModified.")
                }
            }
            return try resolve(path, in: resourceType.schema, keyPrefix: [])
        }
        guard let ext = resourceType.extension(urn: path.schema!) else {
            throw .invalidFilter("Unknown schema '\(path.schema!)' in filter.")
        }
        return try resolve(path, in: ext.schema, keyPrefix: [ext.schema.id])
    }

    private func resolve(_ path: AttributePath, in schema: Schema, keyPrefix: [String]) throws(StoreError) -> Location {
        guard let attribute = schema.attribute(named: path.attribute) else {
            throw .invalidFilter("Unknown attribute '\(path)' in filter.")
        }
        if attribute.returned == .never || attribute.mutability == .writeOnly {
            throw .invalidFilter("'\(path)' is never returned and cannot be filtered.")
        }
        var sub: SchemaAttribute?
        if let subName = path.subAttribute {
            guard let found = attribute.subAttribute(named: subName) else {
                throw .invalidFilter("Unknown sub-attribute '\(path)' in filter.")
            }
            sub = found
        }
        // The members rule (`SCIM/MembershipChange.swift`): a group's members are in `group_members`, not in its body.
        if keyPrefix.isEmpty && resourceType.storesApart(attribute.name) {
            return .members(sub)
        }
        if keyPrefix.isEmpty && table.hasEmailColumn && attribute.name == "groups" {
            return .userGroups(sub)
        }
        if attribute.mutability == .readOnly {
            throw .invalidFilter("Filtering on '\(path)' is not supported by this server yet.")
        }
        if keyPrefix.isEmpty, sub == nil, let column = table.columns[attribute.name.lowercased()] {
            return .column(column.name, column.type)
        }
        if attribute.multiValued {
            if attribute.type == .complex {
                // RFC 7644 §3.4.2.2: a complex multi-valued attribute compared directly means its `value`.
                return .elements(keyPrefix + [attribute.name], attribute, sub ?? attribute.subAttribute(named: "value"))
            }
            return .elements(keyPrefix + [attribute.name], attribute, nil)
        }
        if attribute.type == .complex {
            guard let sub else { return .json(keyPrefix + [attribute.name], attribute) }
            return .json(keyPrefix + [attribute.name, sub.name], sub)
        }
        return .json(keyPrefix + [attribute.name], attribute)
    }

    // MARK: - Conditions

    private func present(_ location: Location, into sql: inout SQLBuilder) throws(StoreError) {
        switch location {
        case .id:
            sql.append("TRUE")
        case .column(let column, let type):
            sql.append(type == .string ? "coalesce(\(column) <> '', false)" : "(\(column) IS NOT NULL)")
        case .json(let keys, _):
            sql.append("coalesce(")
            jsonPath(keys, text: false, into: &sql)
            sql.append(" NOT IN ('null'::jsonb, '\"\"'::jsonb, '[]'::jsonb, '{}'::jsonb), false)")
        case .elements(let keys, _, let sub):
            sql.append("EXISTS (SELECT 1 FROM jsonb_array_elements(")
            jsonPath(keys, text: false, into: &sql)
            sql.append(") AS e(v)")
            if let sub {
                sql.append(" WHERE coalesce(e.v ->> ")
                sql.bind(sub.name)
                sql.append(" <> '', false)")
            }
            sql.append(")")
        case .members:
            try membersExists(where: nil, into: &sql)
        case .userGroups:
            try userGroupsExists(where: nil, into: &sql)
        }
    }

    private func valuePath(_ location: Location, _ inner: Filter, into sql: inout SQLBuilder) throws(StoreError) {
        switch location {
        case .elements(let keys, let attribute, _) where attribute.type == .complex:
            let narrowed = table.hasEmailColumn && keys == ["emails"] ? Self.valueComparison(inner) : nil
            if let (op, email) = narrowed {
                // Narrow by an indexed form of the email column first; the EXISTS keeps the exact meaning.
                sql.append("(")
                emailNarrowing(op, email, into: &sql)
                sql.append(" AND ")
            }
            sql.append("EXISTS (SELECT 1 FROM jsonb_array_elements(")
            jsonPath(keys, text: false, into: &sql)
            sql.append(") AS e(v) WHERE ")
            try elementCondition(inner, attribute, into: &sql)
            sql.append(")")
            if narrowed != nil { sql.append(")") }
        case .members:
            try membersExists(where: inner, into: &sql)
        case .userGroups:
            try userGroupsExists(where: inner, into: &sql)
        default:
            throw .invalidFilter("A value filter '[…]' applies to multi-valued complex attributes only.")
        }
    }

    /// The inner filter of a value path, over one element `e.v`.
    private func elementCondition(_ filter: Filter, _ attribute: SchemaAttribute, into sql: inout SQLBuilder) throws(StoreError) {
        try logical(filter, into: &sql) { filter, sql throws(StoreError) in try elementLeaf(filter, attribute, into: &sql) }
    }

    private func elementLeaf(_ filter: Filter, _ attribute: SchemaAttribute, into sql: inout SQLBuilder) throws(StoreError) {
        switch filter {
        case .and, .or, .not:
            try elementCondition(filter, attribute, into: &sql)
        case .valuePath:
            throw .invalidFilter("Value filters cannot be nested.")
        case .present(let path):
            let sub = try elementSub(path, attribute)
            sql.append("coalesce(e.v ->> ")
            sql.bind(sub.name)
            sql.append(" <> '', false)")
        case .comparison(let path, let op, let value):
            let sub = try elementSub(path, attribute)
            try compare(
                { sql in
                    sql.append("(e.v ->> ")
                    sql.bind(sub.name)
                    sql.append(")")
                }, type: sub.type, caseExact: sub.caseExact, op, value, path: path.description, into: &sql)
        }
    }

    private func elementSub(_ path: AttributePath, _ attribute: SchemaAttribute) throws(StoreError) -> SchemaAttribute {
        guard path.schema == nil, path.subAttribute == nil, let sub = attribute.subAttribute(named: path.attribute) else {
            throw .invalidFilter("'\(path)' is not a sub-attribute of '\(attribute.name)'.")
        }
        return sub
    }

    private func comparison(_ location: Location, _ op: Filter.ComparisonOperator, _ value: JSONValue, into sql: inout SQLBuilder) throws(StoreError) {
        if value.isNull, op == .eq || op == .ne {
            // `attr eq null` asks for absence, `attr ne null` for presence.
            if op == .eq { sql.append("(NOT ") }
            try present(location, into: &sql)
            if op == .eq { sql.append(")") }
            return
        }
        switch location {
        case .id:
            guard case .string(let text) = value else { throw .invalidFilter("'id' is compared with a quoted string.") }
            if op == .eq || op == .ne, let id = UUID(uuidString: text) {
                sql.append(op == .eq ? "(id = " : "(id <> ")
                sql.bind(id)
                sql.append(")")
            } else if op == .eq {
                sql.append("FALSE")  // Not a UUID: no resource has it.
            } else {
                try compare({ $0.append("id::text") }, type: .string, caseExact: false, op, value, path: "id", into: &sql)
            }
        case .column(let column, let type):
            // userName and displayName compare case-insensitively (their lower() indexes); externalId exactly.
            try compare({ $0.append(column) }, type: type, caseExact: column == "external_id", op, value, path: column, into: &sql)
        case .json(let keys, let attribute):
            guard attribute.type != .complex else {
                throw .invalidFilter("'\(keys.last ?? "")' is complex; compare one of its sub-attributes.")
            }
            try compare({ jsonPath(keys, text: true, into: &$0) }, type: attribute.type, caseExact: attribute.caseExact, op, value, path: keys.joined(separator: "."), into: &sql)
        case .elements(let keys, let attribute, let sub):
            if table.hasEmailColumn, keys == ["emails"], sub?.name == "value", op == .eq, case .string(let email) = value {
                sql.append("(emails @> ARRAY[lower(")
                sql.bind(email)
                sql.append(")])")
                return
            }
            let narrowed = table.hasEmailColumn && keys == ["emails"] && sub?.name == "value" && [.co, .sw, .ew].contains(op)
            if narrowed, case .string(let email) = value {
                sql.append("(")
                emailNarrowing(op, email, into: &sql)
                sql.append(" AND ")
            }
            defer { if narrowed, case .string = value { sql.append(")") } }
            if let sub {
                sql.append("EXISTS (SELECT 1 FROM jsonb_array_elements(")
                jsonPath(keys, text: false, into: &sql)
                sql.append(") AS e(v) WHERE ")
                try compare(
                    { sql in
                        sql.append("(e.v ->> ")
                        sql.bind(sub.name)
                        sql.append(")")
                    }, type: sub.type, caseExact: sub.caseExact, op, value, path: "\(attribute.name).\(sub.name)", into: &sql)
                sql.append(")")
            } else {
                sql.append("EXISTS (SELECT 1 FROM jsonb_array_elements_text(")
                jsonPath(keys, text: false, into: &sql)
                sql.append(") AS t(v) WHERE ")
                try compare({ $0.append("t.v") }, type: attribute.type, caseExact: attribute.caseExact, op, value, path: attribute.name, into: &sql)
                sql.append(")")
            }
        case .members(let sub):
            try membersExists(where: .comparison(AttributePath(attribute: sub?.name ?? "value"), op, value), into: &sql)
        case .userGroups(let sub):
            if let tenant, op == .eq, sub == nil || sub?.name == "value", case .string(let text) = value {
                guard let group = UUID(uuidString: text) else { sql.append("FALSE"); return }
                // Everyone in the group, walking nested groups down from it: one index walk, not one per user.
                sql.append("users.id IN (WITH RECURSIVE down(member_id, member_type) AS (SELECT member_id, member_type FROM group_members WHERE tenant_id = ")
                sql.bind(tenant)
                sql.append(" AND group_id = ")
                sql.bind(group)
                sql.append(" UNION SELECT m.member_id, m.member_type FROM down JOIN group_members m ON m.tenant_id = ")
                sql.bind(tenant)
                sql.append(" AND m.group_id = down.member_id WHERE down.member_type = 'Group') SELECT member_id FROM down WHERE member_type = 'User')")
                return
            }
            try userGroupsExists(where: .comparison(AttributePath(attribute: sub?.name ?? "value"), op, value), into: &sql)
        }
    }

    /// `lhs op value`, typed by the attribute: strings (caseExact or not; co/sw/ew with literal
    /// `%`, `_`, `\`), booleans (eq/ne), numbers and dateTimes (ordered). Left bare so the planner
    /// sees indexable predicates; `ne` is IS DISTINCT FROM, so an absent value differs.
    private func compare(
        _ lhs: (inout SQLBuilder) -> Void, type: SchemaAttribute.DataType, caseExact: Bool,
        _ op: Filter.ComparisonOperator, _ value: JSONValue, path: String, into sql: inout SQLBuilder
    ) throws(StoreError) {
        sql.append("(")
        switch type {
        case .string, .reference, .binary:
            guard case .string(let text) = value else {
                throw .invalidFilter("'\(path)' is a string; compare it with a quoted string, not \(value.typeName).")
            }
            let fold = !caseExact
            if fold { sql.append("lower(") }
            lhs(&sql)
            if fold { sql.append(")") }
            switch op {
            case .co, .sw, .ew:
                let pattern = (op == .sw ? "" : "%") + Self.escapeLike(text) + (op == .ew ? "" : "%")
                sql.append(" LIKE ")
                if fold { sql.append("lower(") }
                sql.bind(pattern)
                if fold { sql.append(")") }
                sql.append(" ESCAPE '\\'")
            default:
                sql.append(" \(Self.sqlOperator(op)) ")
                if fold { sql.append("lower(") }
                sql.bind(text)
                if fold { sql.append(")") }
            }
        case .boolean:
            guard case .bool(let flag) = value else {
                throw .invalidFilter("'\(path)' is a boolean; compare it with true or false.")
            }
            guard op == .eq || op == .ne else { throw .invalidFilter("Booleans support only eq and ne ('\(path)').") }
            sql.append("(")
            lhs(&sql)
            sql.append(")::boolean \(Self.sqlOperator(op)) ")
            sql.bind(flag)
        case .integer, .decimal:
            let number: Double
            switch value {
            case .integer(let i): number = Double(i)
            case .decimal(let d): number = d
            default: throw .invalidFilter("'\(path)' is a number; compare it with a number.")
            }
            guard ![.co, .sw, .ew].contains(op) else { throw .invalidFilter("'\(op.rawValue)' does not apply to the number '\(path)'.") }
            sql.append("(")
            lhs(&sql)
            sql.append(")::numeric \(Self.sqlOperator(op)) ")
            sql.bind(number)
            sql.append("::numeric")
        case .dateTime:
            guard case .string(let text) = value, let date = SCIMDate.parse(text) else {
                throw .invalidFilter("'\(path)' is a dateTime; compare it with a quoted RFC 3339 date-time.")
            }
            guard ![.co, .sw, .ew].contains(op) else { throw .invalidFilter("'\(op.rawValue)' does not apply to the dateTime '\(path)'.") }
            sql.append("(")
            lhs(&sql)
            sql.append(")::timestamptz \(Self.sqlOperator(op)) ")
            sql.bind(date)
        case .complex:
            throw .invalidFilter("'\(path)' is complex; compare one of its sub-attributes.")
        }
        sql.append(")")
    }

    // MARK: - Helpers

    /// `body -> k1 -> k2 ->> k3` with the keys bound, so no schema name is ever spliced into SQL.
    func jsonPath(_ keys: [String], text: Bool, into sql: inout SQLBuilder) {
        sql.append("(body")
        for (index, key) in keys.enumerated() {
            sql.append(index == keys.count - 1 && text ? " ->> " : " -> ")
            sql.bind(key)
        }
        sql.append(")")
    }

    /// A `value eq|co|sw|ew "…"` conjunct of a value filter, when it has one (`eq` first: it narrows most).
    static func valueComparison(_ filter: Filter) -> (Filter.ComparisonOperator, String)? {
        switch filter {
        case .comparison(let path, let op, .string(let text))
        where path.schema == nil && path.subAttribute == nil && path.attribute.caseInsensitiveEquals("value") && [.eq, .co, .sw, .ew].contains(op):
            return (op, text)
        case .and(let left, let right):
            let found = [valueComparison(left), valueComparison(right)].compactMap { $0 }
            return found.first { $0.0 == .eq } ?? found.first
        default:
            return nil
        }
    }

    /// A condition every user whose `emails.value` satisfies `op text` meets, that an index serves:
    /// `eq` the GIN index on `emails`; co/sw/ew the trigram index on `roster_emails_text(emails)`
    /// (migration 0018: the lowercased addresses, each between newlines).
    func emailNarrowing(_ op: Filter.ComparisonOperator, _ text: String, into sql: inout SQLBuilder) {
        guard op != .eq else {
            sql.append("emails @> ARRAY[lower(")
            sql.bind(text)
            sql.append(")]")
            return
        }
        let pattern = (op == .sw ? "%\n" : "%") + Self.escapeLike(text) + (op == .ew ? "\n%" : "%")
        sql.append("roster_emails_text(emails) LIKE lower(")
        sql.bind(pattern)
        sql.append(") ESCAPE '\\'")
    }

    static func escapeLike(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character == "\\" || character == "%" || character == "_" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    static func sqlOperator(_ op: Filter.ComparisonOperator) -> String {
        switch op {
        case .eq: "="
        case .ne: "IS DISTINCT FROM"
        case .gt: ">"
        case .ge: ">="
        case .lt: "<"
        case .le: "<="
        case .co, .sw, .ew: "LIKE"
        }
    }
}
