public import Foundation
import PostgresNIO
import RosterAuth
public import SCIM

/// SCIM Users of one tenant. Every statement is scoped by tenant_id.
public struct UserRepository: Sendable {
    let database: RosterDatabase
    let resourceType: ResourceType

    public init(database: RosterDatabase, resourceType: ResourceType) {
        self.database = database
        self.resourceType = resourceType
    }

    /// The indexed columns are copies of body attributes, so filters and uniqueness use indexes.
    private struct Columns {
        var userName: String
        var externalID: String?
        var displayName: String?
        var active: Bool?
        var emails: [String]

        init(_ body: [String: JSONValue]) {
            userName = body["userName"]?.stringValue ?? ""
            externalID = body["externalId"]?.stringValue
            displayName = body["displayName"]?.stringValue
            active = body["active"]?.boolValue
            emails = Array(Set((body["emails"]?.arrayValue ?? []).compactMap { $0["value"]?.stringValue?.lowercased() })).sorted()
        }
    }

    /// The user and its `user.created` event in one statement: one round trip, and nothing shared with
    /// the tenant's other writers (the event is numbered after the commit, see `EventLog.append`).
    public func create(tenant: UUID, body: [String: JSONValue], change: ChangeContext) async throws -> StoredResource {
        let c = Columns(body)
        let rows = try await database.query(
            """
            WITH created AS (
                INSERT INTO users (tenant_id, id, user_name, external_id, display_name, active, emails, created, last_modified, body)
                VALUES (\(tenant), \(UUID()), \(c.userName), \(c.externalID), \(c.displayName), \(c.active), \(c.emails), now(), now(),
                        \(ResourceBody(body)))
                RETURNING \(unescaped: StoredResource.columns)
            ), event AS (
                INSERT INTO events (tenant_id, id, type, resource_type, resource_id, resource_version,
                                    actor_type, actor_id, transaction_id, occurred_at, data)
                SELECT \(tenant), gen_random_uuid(), \(EventType.userCreated.rawValue), 'User', created.id, created.version,
                       \(change.actor.type), \(change.actor.id), \(change.transaction), now(), created.body
                FROM created
            )
            SELECT \(unescaped: StoredResource.columns) FROM created
            """)
        database.eventSignal.written()
        guard let user = try StoredResource.decode(rows).first else { throw StoreError.notFound("user") }
        return user
    }

    /// The unique index a user's `userName` is checked against (case-insensitively, per tenant).
    public static let userNameConstraint = "users_user_name_key"

    /// Creates many users in one transaction with a few set-based statements (Bulk): one INSERT of
    /// every row, in order, that skips a row whose userName is taken — by an existing user or by an
    /// earlier row of the same call — then their `user.created` events through `EventLog.append`.
    /// Element `i` of the answer is the created user, or nil when `bodies[i]`'s userName was taken
    /// (`userNameConstraint`), exactly as `create` would have found it had the bodies been created
    /// one after another.
    ///
    /// `keep` sees which bodies were inserted (in order) and answers how many leading ones to keep;
    /// the rows of the others are deleted before anything commits, and they get neither an answer
    /// nor an event. Any error rolls back the whole call: nothing is written.
    public func createMany(
        tenant: UUID, bodies: [[String: JSONValue]], change: ChangeContext,
        keep: @escaping @Sendable ([Bool]) -> Int = { $0.count }
    ) async throws -> [StoredResource?] {
        guard !bodies.isEmpty else { return [] }
        let ids = bodies.map { _ in UUID() }
        // One jsonb parameter carrying every row: the indexed columns exactly as `create` derives them, and the body.
        let rows = ResourceBody(["rows": .array(zip(ids, bodies).map { id, body in
            let c = Columns(body)
            var row: [String: JSONValue] = [
                "id": .string(id.uuidString), "user_name": .string(c.userName), "emails": .array(c.emails.map { .string($0) }),
                "body": .object(body),
            ]
            if let value = c.externalID { row["external_id"] = .string(value) }
            if let value = c.displayName { row["display_name"] = .string(value) }
            if let value = c.active { row["active"] = .bool(value) }
            return .object(row)
        })])
        return try await database.transaction { connection in
            // ORDER BY n feeds the rows in request order, so of two rows with one userName the earlier
            // one is inserted and the later one skipped, as when each runs alone.
            let inserted = try await connection.query(
                """
                INSERT INTO users (tenant_id, id, user_name, external_id, display_name, active, emails, created, last_modified, body)
                SELECT \(tenant), (r.row ->> 'id')::uuid, r.row ->> 'user_name', r.row ->> 'external_id', r.row ->> 'display_name',
                       (r.row ->> 'active')::boolean, ARRAY(SELECT jsonb_array_elements_text(r.row -> 'emails')), now(), now(), r.row -> 'body'
                FROM jsonb_array_elements(\(rows) -> 'rows') WITH ORDINALITY AS r(row, n)
                ORDER BY r.n
                ON CONFLICT (tenant_id, lower(user_name)) DO NOTHING
                RETURNING id, created, last_modified, version
                """, logger: database.logger
            ).collect()
            var created: [UUID: (Date, Date, Int64)] = [:]
            for row in inserted {
                let (id, createdAt, lastModified, version) = try row.decode((UUID, Date, Date, Int64).self)
                created[id] = (createdAt, lastModified, version)
            }
            let kept = min(max(keep(ids.map { created[$0] != nil }), 0), ids.count)
            let dropped = ids[kept...].filter { created[$0] != nil }
            if !dropped.isEmpty {
                try await connection.query(
                    "DELETE FROM users WHERE tenant_id = \(tenant) AND id = ANY(\(Array(dropped)))", logger: database.logger)
            }
            let users: [StoredResource?] = (0..<kept).map { index in
                created[ids[index]].map { createdAt, lastModified, version in
                    StoredResource(id: ids[index], body: bodies[index], created: createdAt, lastModified: lastModified, version: version)
                }
            }
            let events = users.compactMap { user in
                user.map { NewEvent(type: .userCreated, resource: $0.id, version: $0.version, data: $0.body) }
            }
            try await EventLog.append(events, tenant: tenant, context: change, connection: connection, logger: database.logger)
            return users
        }
    }

    public func get(tenant: UUID, id: UUID) async throws -> StoredResource? {
        // Token re-check of a cache-authenticated read: the same statement (see `ScimTokenCache`).
        let credential = CredentialCheck.current
        guard let row = try await database.execute(HotStatements.FetchUser(tenant: tenant, id: id, token: credential?.principal.tokenID)).first
        else { return nil }
        try credential?.verify(row.live)
        return row.user
    }

    /// Replaces (PUT) or patches (PATCH) a user: `transform` computes the new body from the stored one
    /// inside the row lock. A body that comes out unchanged writes nothing and keeps the version.
    public func update(
        tenant: UUID, id: UUID, precondition: VersionPrecondition? = nil, change: ChangeContext,
        _ transform: @escaping @Sendable ([String: JSONValue]) throws -> [String: JSONValue]
    ) async throws -> StoredResource? {
        try await database.transaction { connection in
            let current = try await StoredResource.decode(connection.query(
                "SELECT \(unescaped: StoredResource.columns) FROM users WHERE tenant_id = \(tenant) AND id = \(id) FOR UPDATE",
                logger: database.logger)).first
            guard let current else { return nil }
            try precondition?.check(current.version)
            let body = try transform(current.body)
            guard body != current.body else { return current }
            let c = Columns(body)
            let rows = try await connection.query(
                """
                UPDATE users SET user_name = \(c.userName), external_id = \(c.externalID), display_name = \(c.displayName),
                    active = \(c.active), emails = \(c.emails), body = \(ResourceBody(body)), version = version + 1,
                    last_modified = now()
                WHERE tenant_id = \(tenant) AND id = \(id)
                RETURNING \(unescaped: StoredResource.columns)
                """, logger: database.logger)
            guard let user = try await StoredResource.decode(rows).first else { return nil }
            try await EventLog.append(Self.events(from: current, to: user), tenant: tenant, context: change, connection: connection, logger: database.logger)
            return user
        }
    }

    /// `user.updated` when anything but `active` changed; `user.deactivated` or `.reactivated` when `active` did. An unset
    /// `active` counts as true, so setting it to true (or unsetting a true one) is no (re)activation, but it does change
    /// what the resource shows: that is a `user.updated`, or a consumer's copy would never learn of it.
    static func events(from old: StoredResource, to new: StoredResource) -> [NewEvent] {
        var events: [NewEvent] = []
        var before = old.body, after = new.body
        let (wasActive, isActive) = (before.removeValue(forKey: "active")?.boolValue ?? true, after.removeValue(forKey: "active")?.boolValue ?? true)
        if before != after || (wasActive == isActive && old.body != new.body) {
            events.append(NewEvent(type: .userUpdated, resource: new.id, version: new.version, data: new.body))
        }
        if wasActive != isActive {
            events.append(NewEvent(type: isActive ? .userReactivated : .userDeactivated, resource: new.id, version: new.version, data: new.body))
        }
        return events
    }

    /// Deletes a user and, in the same transaction, its group memberships. Returns false when absent.
    public func delete(tenant: UUID, id: UUID, precondition: VersionPrecondition? = nil, change: ChangeContext) async throws -> Bool {
        try await database.transaction { connection in
            // Delete the user row first: a concurrent membership insert holds FOR KEY SHARE on it,
            // so this waits for that insert to commit and the membership delete below then sees it.
            let deleted = try await connection.query(
                "DELETE FROM users WHERE tenant_id = \(tenant) AND id = \(id) RETURNING version, body", logger: database.logger
            ).collect()
            guard let row = deleted.first else { return false }
            let (version, body) = try row.decode((Int64, ResourceBody).self)
            try precondition?.check(version)
            let groups = try await GroupRepository.removeMemberships(of: id, tenant: tenant, connection: connection, logger: database.logger)
            let events = [NewEvent(type: .userDeleted, resource: id, version: version, data: body.object)]
                + GroupRepository.departureEvents(of: id, type: .user, from: groups)
            try await EventLog.append(events, tenant: tenant, context: change, connection: connection, logger: database.logger)
            return true
        }
    }

    /// A page of users, each with its groups (selected in the same statement).
    public func list(tenant: UUID, query: ResourceQuery) async throws -> ResourcePage<StoredResource> {
        try await ResourcePage.fetch(table: .users, resourceType: resourceType, tenant: tenant, query: query, database: database)
    }

    /// A cursor page (RFC 9865) of users.
    public func listByCursor(tenant: UUID, query: ResourceQuery) async throws -> CursorPage<StoredResource> {
        try await CursorPage.fetch(table: .users, resourceType: resourceType, tenant: tenant, query: query, database: database)
    }

    /// Fills in `groups` for these users: one recursive query over `group_members` for all of them.
    public func withGroupsLoaded(_ users: [StoredResource], tenant: UUID) async throws -> [StoredResource] {
        guard !users.isEmpty else { return users }
        let rows = try await database.query(
            """
            WITH RECURSIVE up(user_id, group_id, direct) AS (
                SELECT member_id, group_id, true FROM group_members WHERE tenant_id = \(tenant) AND member_id = ANY(\(users.map(\.id)))
              UNION
                SELECT up.user_id, m.group_id, false FROM up JOIN group_members m
                  ON m.tenant_id = \(tenant) AND m.member_id = up.group_id AND m.member_type = 'Group'
            )
            SELECT up.user_id, g.id, g.display_name, bool_or(up.direct)
            FROM up JOIN groups g ON g.tenant_id = \(tenant) AND g.id = up.group_id
            GROUP BY up.user_id, g.id, g.display_name
            ORDER BY g.display_name
            """)
        var groups: [UUID: [UserGroup]] = [:]
        for row in rows {
            let (user, id, display, direct) = try row.decode((UUID, UUID, String, Bool).self)
            groups[user, default: []].append(UserGroup(id: id, display: display, direct: direct))
        }
        return users.map { user in
            var user = user
            user.groups = groups[user.id] ?? []
            return user
        }
    }
}
