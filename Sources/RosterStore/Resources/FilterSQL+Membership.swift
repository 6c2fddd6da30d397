import Foundation
import SCIM

/// Membership conditions: a group's `members` and a user's `groups`, both read from `group_members`.
extension FilterCompiler {

    /// Membership filters read `group_members`, never a member list in the group's body (the members rule,
    /// `SCIM/MembershipChange.swift`).
    func membersExists(where condition: Filter?, into sql: inout SQLBuilder) throws(StoreError) {
        sql.append("EXISTS (SELECT 1 FROM group_members m WHERE m.tenant_id = groups.tenant_id AND m.group_id = groups.id")
        if let condition {
            sql.append(" AND ")
            try memberCondition(condition, into: &sql)
        }
        sql.append(")")
    }

    /// A user's groups, walking nested groups up from the user.
    func userGroupsExists(where condition: Filter?, into sql: inout SQLBuilder) throws(StoreError) {
        sql.append("""
            EXISTS (WITH RECURSIVE up(group_id, direct) AS (SELECT m.group_id, true FROM group_members m \
            WHERE m.tenant_id = users.tenant_id AND m.member_id = users.id UNION SELECT m.group_id, false FROM up \
            JOIN group_members m ON m.tenant_id = users.tenant_id AND m.member_id = up.group_id AND m.member_type = 'Group') \
            SELECT 1 FROM up
            """)
        if let condition {
            sql.append(" WHERE ")
            try userGroupCondition(condition, into: &sql)
        }
        sql.append(")")
    }

    /// `column = id` / `column <> id`; a value that is not a UUID names no resource.
    private func idComparison(_ column: String, _ op: Filter.ComparisonOperator, _ text: String, into sql: inout SQLBuilder) {
        guard let id = UUID(uuidString: text) else {
            sql.append(op == .eq ? "FALSE" : "TRUE")
            return
        }
        sql.append(op == .eq ? "\(column) = " : "\(column) <> ")
        sql.bind(id)
    }

    /// `value` is the group id (eq / ne), `type` is direct or indirect.
    func userGroupCondition(_ filter: Filter, into sql: inout SQLBuilder) throws(StoreError) {
        try logical(filter, into: &sql) { filter, sql throws(StoreError) in try userGroupLeaf(filter, into: &sql) }
    }

    func userGroupLeaf(_ filter: Filter, into sql: inout SQLBuilder) throws(StoreError) {
        switch filter {
        case .present(let path) where ["value", "type"].contains(path.attribute.lowercased()):
            sql.append("TRUE")
        case .comparison(let path, let op, .string(let text)) where path.attribute.caseInsensitiveEquals("value") && (op == .eq || op == .ne):
            idComparison("up.group_id", op, text, into: &sql)
        case .comparison(let path, let op, .string(let text)) where path.attribute.caseInsensitiveEquals("type") && (op == .eq || op == .ne):
            let direct: Bool
            switch text.lowercased() {
            case "direct": direct = true
            case "indirect": direct = false
            default: throw .invalidFilter("A user's groups have type 'direct' or 'indirect', not '\(text)'.")
            }
            sql.append((op == .eq) == direct ? "up.direct" : "NOT up.direct")
        default:
            throw .invalidFilter("Filters on a user's groups support 'value' and 'type' with eq, ne and pr.")
        }
    }

    /// `value` is the member id (eq / ne), `type` is User or Group.
    func memberCondition(_ filter: Filter, into sql: inout SQLBuilder) throws(StoreError) {
        try logical(filter, into: &sql) { filter, sql throws(StoreError) in try memberLeaf(filter, into: &sql) }
    }

    func memberLeaf(_ filter: Filter, into sql: inout SQLBuilder) throws(StoreError) {
        switch filter {
        case .present(let path) where ["value", "type"].contains(path.attribute.lowercased()):
            sql.append("TRUE")
        case .comparison(let path, let op, .string(let text)) where path.attribute.caseInsensitiveEquals("value") && (op == .eq || op == .ne):
            idComparison("m.member_id", op, text, into: &sql)
        case .comparison(let path, let op, .string(let text)) where path.attribute.caseInsensitiveEquals("type") && (op == .eq || op == .ne):
            sql.append(op == .eq ? "lower(m.member_type) = lower(" : "lower(m.member_type) <> lower(")
            sql.bind(text)
            sql.append(")")
        default:
            throw .invalidFilter("Member filters support 'value' and 'type' with eq, ne and pr.")
        }
    }
}
