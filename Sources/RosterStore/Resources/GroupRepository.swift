public import Foundation
import Logging
import PostgresNIO
public import SCIM

/// A Group row with its members, resolved from `group_members`.
public struct StoredGroup: Sendable, Equatable {
    public var resource: StoredResource
    public var members: [GroupMember]
}

/// SCIM Groups of one tenant. Membership lives in `group_members`, never in the group's body: the body
/// comes here already without `members` (the members rule, `SCIM/MembershipChange.swift`).
public struct GroupRepository: Sendable {
    let database: RosterDatabase
    let resourceType: ResourceType

    public init(database: RosterDatabase, resourceType: ResourceType) {
        self.database = database
        self.resourceType = resourceType
    }

    /// Creates a group from a body without `members` and the membership changes that go with it.
    public func create(
        tenant: UUID, body: [String: JSONValue], membership: [MembershipChange], withMembers: Bool = true, change: ChangeContext
    ) async throws -> StoredGroup {
        let id = UUID()
        return try await database.transaction { connection in
            let rows = try await connection.query(
                """
                INSERT INTO groups (tenant_id, id, display_name, external_id, created, last_modified, body)
                VALUES (\(tenant), \(id), \(body["displayName"]?.stringValue ?? ""), \(body["externalId"]?.stringValue),
                        now(), now(), \(ResourceBody(body)))
                RETURNING \(unescaped: StoredResource.columns)
                """, logger: database.logger)
            guard let group = try await StoredResource.decode(rows).first else { throw StoreError.notFound("group") }
            var delta = MembershipDelta()
            for change in membership {
                try await Self.apply(change, to: id, tenant: tenant, delta: &delta, connection: connection, logger: database.logger)
            }
            let events = [NewEvent(type: .groupCreated, resource: id, version: group.version, data: group.body)]
                + delta.events(group: id, version: group.version)
            try await EventLog.append(events, tenant: tenant, context: change, connection: connection, logger: database.logger)
            guard withMembers else { return StoredGroup(resource: group, members: []) }
            let resolved = try await Self.members(of: [id], tenant: tenant, connection: connection, logger: database.logger)
            return StoredGroup(resource: group, members: resolved[id] ?? [])
        }
    }

    /// - Parameter withMembers: false reads the group row only, never `group_members`.
    public func get(tenant: UUID, id: UUID, withMembers: Bool = true) async throws -> StoredGroup? {
        try await database.withConnection { connection in
            let rows = try await database.checkedQuery(  // token re-check of a cache-authenticated read (ScimTokenCache)
                "SELECT \(unescaped: StoredResource.columns) FROM groups WHERE tenant_id = \(tenant) AND id = \(id)", on: connection)
            guard let group = try StoredResource.decode(rows).first else { return nil }
            guard withMembers else { return StoredGroup(resource: group, members: []) }
            let members = try await Self.members(of: [id], tenant: tenant, connection: connection, logger: database.logger)
            return StoredGroup(resource: group, members: members[id] ?? [])
        }
    }

    /// Replaces (PUT) or patches (PATCH) a group: `transform` gives the new body and the membership
    /// changes, applied in order to `group_members` row by row: a change costs its own size, never the group's.
    /// Nothing changed (an existing member added, a non-member removed) writes nothing and keeps the version.
    public func update(
        tenant: UUID, id: UUID, precondition: VersionPrecondition? = nil, withMembers: Bool = true, change: ChangeContext,
        _ transform: @escaping @Sendable ([String: JSONValue]) throws -> ([String: JSONValue], [MembershipChange])
    ) async throws -> StoredGroup? {
        try await database.transaction { connection in
            // NO KEY UPDATE still serialises writers of this group, but lets another group's PATCH lock it FOR KEY
            // SHARE as a new member: two PATCHes nesting A and B in each other then queue instead of deadlocking.
            let current = try await StoredResource.decode(connection.query(
                "SELECT \(unescaped: StoredResource.columns) FROM groups WHERE tenant_id = \(tenant) AND id = \(id) FOR NO KEY UPDATE",
                logger: database.logger)).first
            guard let current else { return nil }
            try precondition?.check(current.version)
            let (body, changes) = try transform(current.body)
            var delta = MembershipDelta()
            for membership in changes {
                try await Self.apply(membership, to: id, tenant: tenant, delta: &delta, connection: connection, logger: database.logger)
            }
            var group = current
            if body != current.body || !delta.isEmpty {
                let rows = try await connection.query(
                    """
                    UPDATE groups SET display_name = \(body["displayName"]?.stringValue ?? ""), external_id = \(body["externalId"]?.stringValue),
                        body = \(ResourceBody(body)), version = version + 1, last_modified = now()
                    WHERE tenant_id = \(tenant) AND id = \(id)
                    RETURNING \(unescaped: StoredResource.columns)
                    """, logger: database.logger)
                guard let updated = try await StoredResource.decode(rows).first else { return nil }
                group = updated
                var events = delta.events(group: id, version: group.version)
                if body != current.body {
                    events.insert(NewEvent(type: .groupUpdated, resource: id, version: group.version, data: group.body), at: 0)
                }
                try await EventLog.append(events, tenant: tenant, context: change, connection: connection, logger: database.logger)
            }
            guard withMembers else { return StoredGroup(resource: group, members: []) }
            let resolved = try await Self.members(of: [id], tenant: tenant, connection: connection, logger: database.logger)
            return StoredGroup(resource: group, members: resolved[id] ?? [])
        }
    }

    /// Applies one membership change, noting in `delta` the rows it really added or removed.
    static func apply(
        _ change: MembershipChange, to group: UUID, tenant: UUID, delta: inout MembershipDelta, connection: PostgresConnection, logger: Logger
    ) async throws {
        switch change {
        case .add(let members):
            try await addMembers(members, to: group, tenant: tenant, delta: &delta, connection: connection, logger: logger)
        case .remove(let ids):
            guard !ids.isEmpty else { return }
            let rows = try await connection.query(
                """
                DELETE FROM group_members WHERE tenant_id = \(tenant) AND group_id = \(group) AND member_id = ANY(\(ids))
                RETURNING member_id, member_type
                """, logger: logger)
            for try await (id, type) in rows.decode((UUID, MemberType).self) { delta.remove(id, type) }
        case .removeAll:
            let rows = try await connection.query(
                "DELETE FROM group_members WHERE tenant_id = \(tenant) AND group_id = \(group) RETURNING member_id, member_type",
                logger: logger)
            for try await (id, type) in rows.decode((UUID, MemberType).self) { delta.remove(id, type) }
        case .replace(let members):
            let existing = Set(try await connection.query(
                "SELECT member_id FROM group_members WHERE tenant_id = \(tenant) AND group_id = \(group)", logger: logger
            ).collect().map { try $0.decode(UUID.self) })
            let removed = existing.subtracting(members.map(\.id))
            if !removed.isEmpty {
                try await apply(.remove(Array(removed)), to: group, tenant: tenant, delta: &delta, connection: connection, logger: logger)
            }
            try await addMembers(
                members.filter { !existing.contains($0.id) }, to: group, tenant: tenant, delta: &delta, connection: connection, logger: logger)
        }
    }

    /// Deletes a group, its own membership rows (by cascade) and its memberships in other groups.
    public func delete(tenant: UUID, id: UUID, precondition: VersionPrecondition? = nil, change: ChangeContext) async throws -> Bool {
        try await database.transaction { connection in
            let deleted = try await connection.query(
                "DELETE FROM groups WHERE tenant_id = \(tenant) AND id = \(id) RETURNING version, body", logger: database.logger
            ).collect()
            guard let row = deleted.first else { return false }
            let (version, body) = try row.decode((Int64, ResourceBody).self)
            try precondition?.check(version)
            let parents = try await Self.removeMemberships(of: id, tenant: tenant, connection: connection, logger: database.logger)
            let events = [NewEvent(type: .groupDeleted, resource: id, version: version, data: body.object)]
                + Self.departureEvents(of: id, type: .group, from: parents)
            try await EventLog.append(events, tenant: tenant, context: change, connection: connection, logger: database.logger)
            return true
        }
    }

    /// How `member` (a user or a group) belongs to `group`; nil when either is not in the tenant.
    /// It walks up from the member through the groups that contain it, so it costs the member's
    /// memberships, never the size of the group.
    /// The ids of a tenant's groups with this id or displayName (case-insensitive), oldest first.
    public func find(tenant: UUID, idOrDisplayName reference: String) async throws -> [UUID] {
        try await database.query(
            """
            SELECT id FROM groups
            WHERE tenant_id = \(tenant) AND (id = \(UUID(uuidString: reference)) OR lower(display_name) = lower(\(reference)))
            ORDER BY created, id LIMIT 2
            """).map { try $0.decode(UUID.self) }
    }

    public func membership(tenant: UUID, group: UUID, member: UUID) async throws -> Membership? {
        let rows = try await database.query(
            """
            WITH RECURSIVE up(group_id, direct) AS (
                SELECT group_id, true FROM group_members WHERE tenant_id = \(tenant) AND member_id = \(member)
              UNION
                SELECT m.group_id, false FROM up JOIN group_members m
                  ON m.tenant_id = \(tenant) AND m.member_id = up.group_id AND m.member_type = 'Group'
            )
            SELECT EXISTS (SELECT 1 FROM groups WHERE tenant_id = \(tenant) AND id = \(group)),
                   EXISTS (SELECT 1 FROM users WHERE tenant_id = \(tenant) AND id = \(member))
                     OR EXISTS (SELECT 1 FROM groups WHERE tenant_id = \(tenant) AND id = \(member)),
                   (SELECT bool_or(direct) FROM up WHERE group_id = \(group))
            """)
        guard let row = rows.first else { return nil }
        let (groupExists, memberExists, direct) = try row.decode((Bool, Bool, Bool?).self)
        guard groupExists, memberExists else { return nil }
        return direct.map { $0 ? .direct : .indirect } ?? .notMember
    }

    public enum Membership: String, Sendable {
        case direct, indirect, notMember
    }

    /// A page of groups. With members, the page's groups may have at most `memberBudget` members together:
    /// past it the page is refused (400 tooMany) before any member row is read, never cut silently.
    public func list(
        tenant: UUID, query: ResourceQuery, withMembers: Bool = true, memberBudget: Int = .max
    ) async throws -> ResourcePage<StoredGroup> {
        let page = try await ResourcePage.fetch(table: .groups, resourceType: resourceType, tenant: tenant, query: query, database: database)
        return ResourcePage(
            totalResults: page.totalResults,
            resources: try await loadingMembers(page.resources, tenant: tenant, load: withMembers, budget: memberBudget))
    }

    /// A cursor page (RFC 9865) of groups, members loaded as `list` loads them.
    public func listByCursor(
        tenant: UUID, query: ResourceQuery, withMembers: Bool = true, memberBudget: Int = .max
    ) async throws -> CursorPage<StoredGroup> {
        let page = try await CursorPage.fetch(table: .groups, resourceType: resourceType, tenant: tenant, query: query, database: database)
        return CursorPage(
            totalResults: page.totalResults,
            resources: try await loadingMembers(page.resources, tenant: tenant, load: withMembers, budget: memberBudget),
            next: page.next, previous: page.previous)
    }

    private func loadingMembers(_ groups: [StoredResource], tenant: UUID, load: Bool, budget: Int) async throws -> [StoredGroup] {
        guard load, !groups.isEmpty else { return groups.map { StoredGroup(resource: $0, members: []) } }
        let ids = groups.map(\.id)
        return try await database.withConnection { connection in
            if budget < .max {
                let sizes = try await Self.memberCounts(of: ids, upTo: budget + 1, tenant: tenant, connection: connection, logger: database.logger)
                if sizes.values.reduce(0, +) > budget {
                    // RFC 7644 §3.12 tooMany: more than the server is willing to process in one answer.
                    throw StoreError.tooMuch("""
                        The groups of this page have more than \(budget) members together, more than one page returns. \
                        Exclude them (excludedAttributes=members, as Entra ID and Okta do), ask for fewer groups (count), \
                        or read one group's members with GET /Groups/{id}.
                        """)
                }
            }
            let members = try await Self.members(of: ids, tenant: tenant, connection: connection, logger: database.logger)
            return groups.map { StoredGroup(resource: $0, members: members[$0.id] ?? []) }
        }
    }

    /// Each group's member count, counted no further than `limit` (an index-only walk of at most that many rows per group).
    static func memberCounts(
        of groups: [UUID], upTo limit: Int, tenant: UUID, connection: PostgresConnection, logger: Logger
    ) async throws -> [UUID: Int] {
        let rows = try await connection.query(
            """
            SELECT g.id, c.n FROM unnest(\(groups)::uuid[]) AS g(id)
            CROSS JOIN LATERAL (
                SELECT count(*) FROM (
                    SELECT 1 FROM group_members m WHERE m.tenant_id = \(tenant) AND m.group_id = g.id LIMIT \(limit)
                ) bounded
            ) AS c(n)
            """, logger: logger)
        var counts: [UUID: Int] = [:]
        for try await (id, count) in rows.decode((UUID, Int64).self) { counts[id] = Int(count) }
        return counts
    }

    // MARK: - Membership rows

    /// The first key of the advisory lock that serialises adding groups to groups in one tenant: "Nest" in ASCII.
    static let nestingLock: Int32 = 0x4E65_7374

    /// Inserts membership rows after checking each member exists in the tenant with the claimed type.
    /// The member rows are locked FOR KEY SHARE so a concurrent delete waits for this transaction.
    static func addMembers(
        _ members: [MemberReference], to group: UUID, tenant: UUID, delta: inout MembershipDelta, connection: PostgresConnection, logger: Logger
    ) async throws {
        guard !members.isEmpty else { return }
        let ids = members.map(\.id)
        var found: [UUID: MemberType] = [:]
        // Users and groups in one round trip: this runs while the group's row is held.
        for try await (id, type) in try await connection.query(
            """
            WITH u AS (SELECT id FROM users WHERE tenant_id = \(tenant) AND id = ANY(\(ids)) FOR KEY SHARE),
                 g AS (SELECT id FROM groups WHERE tenant_id = \(tenant) AND id = ANY(\(ids)) FOR KEY SHARE)
            SELECT id, 'User' FROM u UNION ALL SELECT id, 'Group' FROM g
            """, logger: logger
        ).decode((UUID, String).self) { found[id] = type == "Group" ? .group : .user }

        for member in members {
            guard let type = found[member.id] else {
                throw StoreError.invalidMembers("Member \(member.id.uuidString.lowercased()) is not a User or Group of this tenant.")
            }
            if let claimed = member.type, claimed != type {
                throw StoreError.invalidMembers("Member \(member.id.uuidString.lowercased()) is a \(type.rawValue), not a \(claimed.rawValue).")
            }
        }
        let groupMembers = members.filter { found[$0.id] == .group }.map(\.id)
        if groupMembers.contains(group) {
            throw StoreError.invalidMembers("A group cannot be a member of itself.")
        }
        if !groupMembers.isEmpty {
            // Two transactions adding A to B and B to A would each see no cycle in its own snapshot: nesting
            // in a tenant is serialised (until commit), and each check runs after the lock, in a fresh snapshot.
            try await connection.query(
                "SELECT pg_advisory_xact_lock(\(Self.nestingLock), hashtext(\(tenant.uuidString.lowercased())))", logger: logger)
            // A nested group that already contains this group, directly or not, would close a cycle.
            let cycle = try await connection.query(
                """
                WITH RECURSIVE descendants(id) AS (
                    SELECT member_id FROM group_members
                    WHERE tenant_id = \(tenant) AND group_id = ANY(\(groupMembers)) AND member_type = 'Group'
                  UNION
                    SELECT m.member_id FROM group_members m JOIN descendants d ON m.group_id = d.id
                    WHERE m.tenant_id = \(tenant) AND m.member_type = 'Group'
                )
                SELECT EXISTS (SELECT 1 FROM descendants WHERE id = \(group))
                """, logger: logger
            ).decode(Bool.self).first(where: { _ in true }) ?? false
            if cycle { throw StoreError.invalidMembers("Adding these members would make the group a member of itself.") }
        }
        let types = members.map { found[$0.id]!.rawValue }
        // Adding an existing member is not an error, and not a change (RFC 7644 §3.5.2.1).
        let rows = try await connection.query(
            """
            INSERT INTO group_members (tenant_id, group_id, member_id, member_type)
            SELECT \(tenant), \(group), m.id, m.type FROM unnest(\(ids)::uuid[], \(types)::text[]) AS m(id, type)
            ON CONFLICT DO NOTHING
            RETURNING member_id, member_type
            """, logger: logger)
        for try await (id, type) in rows.decode((UUID, MemberType).self) { delta.add(id, type) }
    }

    /// Removes a deleted resource from every group it belonged to, and bumps those groups' version;
    /// returns those groups with their new versions.
    static func removeMemberships(
        of member: UUID, tenant: UUID, connection: PostgresConnection, logger: Logger
    ) async throws -> [(group: UUID, version: Int64)] {
        try await connection.query(
            """
            WITH removed AS (
                DELETE FROM group_members WHERE tenant_id = \(tenant) AND member_id = \(member) RETURNING group_id
            )
            UPDATE groups SET version = version + 1, last_modified = now()
            WHERE tenant_id = \(tenant) AND id IN (SELECT group_id FROM removed)
            RETURNING id, version
            """, logger: logger
        ).collect().map { try $0.decode((UUID, Int64).self) }
    }

    /// `group.members.removed` for each group a deleted member left.
    static func departureEvents(of member: UUID, type: MemberType, from groups: [(group: UUID, version: Int64)]) -> [NewEvent] {
        groups.flatMap { group, version in
            var delta = MembershipDelta()
            delta.remove(member, type)
            return delta.events(group: group, version: version)
        }
    }

    /// Members of the given groups, with a display name from the member's row.
    static func members(
        of groups: [UUID], tenant: UUID, connection: PostgresConnection, logger: Logger
    ) async throws -> [UUID: [GroupMember]] {
        let rows = try await connection.query(
            """
            SELECT m.group_id, m.member_id, m.member_type, coalesce(u.display_name, u.user_name, g.display_name)
            FROM group_members m
            LEFT JOIN users u ON m.member_type = 'User' AND u.tenant_id = m.tenant_id AND u.id = m.member_id
            LEFT JOIN groups g ON m.member_type = 'Group' AND g.tenant_id = m.tenant_id AND g.id = m.member_id
            WHERE m.tenant_id = \(tenant) AND m.group_id = ANY(\(groups))
            ORDER BY m.group_id, m.member_id
            """, logger: logger)
        var result: [UUID: [GroupMember]] = [:]
        for try await (group, id, type, display) in rows.decode((UUID, UUID, MemberType, String?).self) {
            result[group, default: []].append(GroupMember(id: id, type: type, display: display))
        }
        return result
    }
}
