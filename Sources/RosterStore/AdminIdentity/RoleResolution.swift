public import Foundation
import PostgresNIO
public import RosterAuth

extension PostgresQuery.StringInterpolation {
    /// The condition over `users u` that a match names (each uses its own index), with the value bound; FALSE for none.
    mutating func appendInterpolation(user match: DirectoryMatch?) {
        guard let match else { return appendLiteral("FALSE") }
        switch match.attribute {
        case .userName: appendLiteral("lower(u.user_name) = lower(")
        case .emails: appendLiteral("u.emails @> ARRAY[lower(")
        case .externalId: appendLiteral("u.external_id = (")
        }
        appendInterpolation(match.value)
        appendLiteral(match.attribute == .emails ? "::text)]" : "::text)")
    }
}

/// What an admin identity may do right now: its own grants, the roles named for it, and the roles of
/// the SCIM groups its directory user belongs to, directly or through nested groups.
public struct RoleResolution: RoleResolving {
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    /// Resolves in one statement. With `activeGroup` (a group id or displayName), only that group's roles
    /// count, and only when the identity is a member of it. `matchTenants` (names or ids) confines `match` to
    /// those tenants' users (an OIDC issuer's `directoryTenants`); nil: any tenant's (Roster's own admin users).
    public func resolve(
        user: UUID?, match: DirectoryMatch?, matchTenants: [String]? = nil, named: [NamedRole] = [], activeGroup: String? = nil
    ) async throws -> RoleOutcome {
        let groupID = activeGroup.flatMap(UUID.init(uuidString:))
        let confined = matchTenants != nil
        let tenants = matchTenants ?? []
        let rows = try await database.query(
            """
            WITH RECURSIVE me AS (
                SELECT u.tenant_id, u.id FROM users u
                WHERE u.tenant_id IN (SELECT group_tenant_id FROM admin_role_grants WHERE group_id IS NOT NULL)
                  AND (NOT \(confined) OR u.tenant_id IN (SELECT t.id FROM tenants t WHERE t.name = ANY(\(tenants)) OR t.id::text = ANY(\(tenants))))
                  AND \(user: match)),
            member_of (tenant_id, group_id) AS (
                SELECT gm.tenant_id, gm.group_id FROM group_members gm JOIN me ON gm.tenant_id = me.tenant_id AND gm.member_id = me.id
                UNION
                SELECT gm.tenant_id, gm.group_id FROM group_members gm
                JOIN member_of m ON gm.tenant_id = m.tenant_id AND gm.member_id = m.group_id),
            active AS (
                SELECT g.tenant_id, g.id FROM groups g JOIN member_of m ON m.tenant_id = g.tenant_id AND m.group_id = g.id
                WHERE \(activeGroup)::text IS NOT NULL AND (g.id = \(groupID) OR lower(g.display_name) = lower(\(activeGroup))))
            SELECT 'grant', gr.tenant_id, r.scopes FROM admin_role_grants gr JOIN admin_roles r ON r.id = gr.role_id
            WHERE CASE WHEN \(activeGroup)::text IS NULL
                       THEN gr.user_id = \(user) OR (gr.group_tenant_id, gr.group_id) IN (SELECT tenant_id, group_id FROM member_of)
                       ELSE (gr.group_tenant_id, gr.group_id) IN (SELECT tenant_id, id FROM active) END
              -- A group's grant confers rights on its own tenant only, unless that is the operator's directory (0013).
              AND (gr.group_id IS NULL OR gr.tenant_id = gr.group_tenant_id
                   OR gr.group_tenant_id IN (SELECT id FROM tenants WHERE operator_directory))
            UNION ALL
            SELECT 'grant', t.id, r.scopes
            FROM (SELECT role, nullif(tenant, '') AS tenant
                  FROM unnest(\(named.map(\.role))::text[], \(named.map { $0.tenant ?? "" })::text[]) AS n (role, tenant)) n
            JOIN admin_roles r ON r.name = n.role
            LEFT JOIN tenants t ON t.name = n.tenant OR t.id::text = lower(n.tenant)
            WHERE \(activeGroup)::text IS NULL AND (n.tenant IS NULL OR t.id IS NOT NULL)
            UNION ALL
            SELECT 'active', NULL, '{}'::text[] FROM active
            """)
        var grants = AdminGrants.none
        var memberOfActive = false
        for row in rows {
            let (kind, tenant, scopes) = try row.decode((String, UUID?, [AdminScope]).self)
            if kind == "active" { memberOfActive = true; continue }
            grants.add(Set(scopes), tenant: tenant)
        }
        if activeGroup != nil && !memberOfActive { return .notAMember }
        return .granted(grants)
    }
}

extension RoleResolution {
    /// An admin user's rights: their own grants plus those of the groups their directory user (found by
    /// `attribute` = their email) belongs to; nil when the user does not exist or is disabled.
    public func resolve(adminUser id: UUID, attribute: DirectoryMatch.Attribute, activeGroup: String? = nil) async throws -> RoleOutcome? {
        let rows = try await database.query("SELECT email FROM admin_users WHERE id = \(id) AND disabled IS NULL")
        guard let email = try rows.first?.decode(String.self) else { return nil }
        return try await resolve(user: id, match: DirectoryMatch(attribute: attribute, value: email), activeGroup: activeGroup)
    }
}
