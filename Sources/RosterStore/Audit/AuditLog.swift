public import Foundation
import PostgresNIO
import RosterAuth
public import SCIM

/// One entry of the audit log: a SCIM change (an event of the change feed) or an admin action.
public struct AuditEntry: Sendable, Equatable {
    public enum Source: Int, Sendable {
        case scim = 0
        case admin = 1
    }

    public var source: Source
    /// The event's id (the change feed's), or the admin action's.
    public var id: UUID
    /// nil: a global action (a tenant created, a global admin key).
    public var tenant: UUID?
    /// An event type (`user.created`) or an admin action (`scim_token.revoked`).
    public var action: String
    public var actor: Actor
    public var targetType: String
    /// nil for a failed login to an unknown email.
    public var targetID: UUID?
    public var occurred: Date
    /// Shared by the events of one SCIM request; nil for admin actions.
    public var transaction: UUID?
    /// The admin API request's `X-Request-Id`; nil for SCIM changes and the CLI.
    public var requestID: String?
    /// The admin API client's address; nil for SCIM changes and the CLI.
    public var sourceAddress: String?
    public var details: [String: JSONValue]
    /// Where a reader goes on from after this entry.
    public var position: AuditPosition
}

/// An entry's place in the audit log. The log is ordered by (time, source, key, sequence):
/// events as (occurred_at, 0, tenant_id, seq), admin actions as (occurred_at, 1, id, 0). That key
/// is unique over both tables ((tenant_id, seq) is unique among events, 0025; id is the actions' key), so
/// keyset paging on it returns every entry exactly once, however many entries share a time (all
/// events of one transaction do). Within a tenant and a time, events keep their feed order.
///
/// Time is the transaction's start, not its commit: an entry committed after a reader passed its
/// time sorts behind that reader. The audit log reads the settled past; the change feed (by `seq`)
/// is the commit-ordered stream to follow live.
public struct AuditPosition: Sendable, Equatable {
    /// Microseconds since 1970, PostgreSQL's own precision (a `Date` would round).
    public var microseconds: Int64
    public var source: AuditEntry.Source
    public var key: UUID
    public var sequence: Int64

    public init(microseconds: Int64, source: AuditEntry.Source, key: UUID, sequence: Int64) {
        self.microseconds = microseconds
        self.source = source
        self.key = key
        self.sequence = sequence
    }

    /// The opaque text of `cursor` and `next_cursor` (`ListCursor`; the audit log's has no scope field).
    public var cursor: String {
        ListCursor.encode(.audit, [String(microseconds), String(source.rawValue), key.uuidString.lowercased(), String(sequence)])
    }

    /// nil when `cursor` is not one this log issued.
    public init?(cursor: String) {
        guard let parts = ListCursor.fields(cursor, of: .audit, count: 4), let microseconds = ListCursor.microseconds(parts[0]), let raw = Int(parts[1]),
            let source = AuditEntry.Source(rawValue: raw), let key = UUID(uuidString: parts[2]), let sequence = Int64(parts[3]),
            sequence >= 0
        else { return nil }
        self.init(microseconds: microseconds, source: source, key: key, sequence: sequence)
    }
}

/// Reads the audit log: the events table and admin_actions (0007_audit.sql) as one log by time.
public struct AuditLog: Sendable {
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    /// Whose entries a filter keeps.
    public enum ActorFilter: Sendable, Equatable {
        /// An admin key or a SCIM token.
        case id(UUID)
        /// The bootstrap key from configuration.
        case bootstrap
        /// Roster itself (the CLI).
        case system
    }

    public struct Query: Sendable {
        /// One tenant's entries; nil: every tenant's and the global ones.
        public var tenant: UUID?
        public var after: AuditPosition?
        public var limit: Int
        public var actor: ActorFilter?
        /// Only these actions (event types or admin action names); nil: every one.
        public var actions: [String]?
        public var since: Date?

        public init(
            tenant: UUID? = nil, after: AuditPosition? = nil, limit: Int = 100, actor: ActorFilter? = nil, actions: [String]? = nil,
            since: Date? = nil
        ) {
            self.tenant = tenant
            self.after = after
            self.limit = limit
            self.actor = actor
            self.actions = actions
            self.since = since
        }
    }

    /// Up to `query.limit` entries after `query.after`, oldest first, and whether more follow now.
    public func read(_ query: Query) async throws -> (entries: [AuditEntry], more: Bool) {
        // SCIM changes show once numbered (0017): number what has committed, so a change just made shows.
        try await EventLog(database: database).stamp(tenant: query.tenant)
        let rows = try await database.query(Self.statement(query))
        let entries = try rows.map(Self.entry)
        return (Array(entries.prefix(query.limit)), entries.count > query.limit)
    }

    static let maxKey = UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255))
    static let minKey = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))

    static func statement(_ query: Query) -> PostgresQuery {
        // Each table's bound after the cursor: entries of the same time sort events first, then actions.
        var eventsAfter: (Int64, UUID, Int64)?
        var actionsAfter: (Int64, UUID)?
        if let after = query.after {
            switch after.source {
            case .scim:
                eventsAfter = (after.microseconds, after.key, after.sequence)
                actionsAfter = (after.microseconds, minKey)
            case .admin:
                eventsAfter = (after.microseconds, maxKey, .max)
                actionsAfter = (after.microseconds, after.key)
            }
        }
        let eventTypes = query.actions?.filter { EventType(rawValue: $0) != nil }
        let adminActions = query.actions?.filter { AdminAction(rawValue: $0) != nil }
        let (actorType, actorID, anonymous): (String?, UUID?, Bool) =
            switch query.actor {
            case nil: (nil, nil, false)
            case .id(let id): (nil, id, false)
            case .bootstrap: ("admin_key", nil, true)
            case .system: ("system", nil, false)
            }
        let fetch = query.limit + 1
        // A cursor's time is exact in SQL: 'epoch' plus whole microseconds (a bound Date would round).
        // Per tenant (LATERAL), each its index's range (0007_audit.sql), then merged: a global read costs
        // one short index scan per tenant, never a scan of every event.
        return """
            SELECT * FROM (
                (SELECT 0 AS source, e.tenant_id AS key, e.seq, e.occurred_at, (extract(epoch FROM e.occurred_at) * 1000000)::bigint,
                        e.id, e.tenant_id, e.type, e.actor_type, e.actor_id, NULL::text, NULL::text, e.resource_type, e.resource_id, e.transaction_id, NULL::text,
                        jsonb_build_object('sequence', e.seq, 'resource_version', e.resource_version)
                          || CASE WHEN e.type IN ('group.members.added', 'group.members.removed')
                                  THEN jsonb_build_object('members', jsonb_array_length(e.data -> 'members')) ELSE '{}' END
                 FROM tenants t CROSS JOIN LATERAL (
                     SELECT * FROM events e
                     WHERE e.tenant_id = t.id AND e.seq IS NOT NULL
                       AND (\(eventsAfter?.0)::bigint IS NULL
                            OR (e.occurred_at >= timestamptz 'epoch' + \(eventsAfter?.0)::bigint * interval '1 microsecond'
                                AND (e.occurred_at, e.tenant_id, e.seq)
                                    > (timestamptz 'epoch' + \(eventsAfter?.0)::bigint * interval '1 microsecond',
                                       \(eventsAfter?.1)::uuid, \(eventsAfter?.2)::bigint)))
                       AND (\(query.since)::timestamptz IS NULL OR e.occurred_at >= \(query.since))
                       AND (\(eventTypes)::text[] IS NULL OR e.type = ANY(\(eventTypes)::text[]))
                       AND (\(actorType)::text IS NULL OR e.actor_type = \(actorType))
                       AND (\(actorID)::uuid IS NULL OR e.actor_id = \(actorID))
                       AND (NOT \(anonymous) OR e.actor_id IS NULL)
                     ORDER BY e.occurred_at, e.seq
                     LIMIT \(fetch)) e
                 WHERE (\(query.tenant)::uuid IS NULL OR t.id = \(query.tenant))
                   AND (\(eventTypes)::text[] IS NULL OR cardinality(\(eventTypes)::text[]) > 0)  -- only admin actions asked for
                 ORDER BY e.occurred_at, e.tenant_id, e.seq
                 LIMIT \(fetch))
                UNION ALL
                (SELECT 1, a.id, 0::bigint, a.occurred_at, (extract(epoch FROM a.occurred_at) * 1000000)::bigint,
                        a.id, a.tenant_id, a.action, a.actor_type, a.actor_id, a.actor_subject, a.source_address, a.target_type, a.target_id, NULL::uuid, a.request_id, a.details
                 FROM admin_actions a
                 WHERE (\(query.tenant)::uuid IS NULL OR a.tenant_id = \(query.tenant))
                   AND (\(actionsAfter?.0)::bigint IS NULL
                        OR (a.occurred_at >= timestamptz 'epoch' + \(actionsAfter?.0)::bigint * interval '1 microsecond'
                            AND (a.occurred_at, a.id)
                                > (timestamptz 'epoch' + \(actionsAfter?.0)::bigint * interval '1 microsecond', \(actionsAfter?.1)::uuid)))
                   AND (\(query.since)::timestamptz IS NULL OR a.occurred_at >= \(query.since))
                   AND (\(adminActions)::text[] IS NULL OR a.action = ANY(\(adminActions)::text[]))
                   AND (\(actorType)::text IS NULL OR a.actor_type = \(actorType))
                   AND (\(actorID)::uuid IS NULL OR a.actor_id = \(actorID))
                   AND (NOT \(anonymous) OR a.actor_id IS NULL)
                 ORDER BY a.occurred_at, a.id
                 LIMIT \(fetch))
            ) AS entries
            ORDER BY occurred_at, source, key, seq
            LIMIT \(fetch)
            """
    }

    static func entry(_ row: PostgresRow) throws -> AuditEntry {
        let (source, key, sequence, occurred, microseconds, id, tenant, action, actorType, actorID, actorSubject, sourceAddress, targetType,
            targetID, transaction, requestID, details) = try row.decode(
                (Int, UUID, Int64, Date, Int64, UUID, UUID?, String, String, UUID?, String?, String?, String, UUID?, UUID?, String?, ResourceBody).self)
        guard let source = AuditEntry.Source(rawValue: source) else { throw StoreError.unavailable("unknown audit source \(source)") }
        return AuditEntry(
            source: source, id: id, tenant: tenant, action: action, actor: Actor(type: actorType, id: actorID, subject: actorSubject),
            targetType: targetType, targetID: targetID, occurred: occurred, transaction: transaction, requestID: requestID,
            sourceAddress: sourceAddress, details: details.object,
            position: AuditPosition(microseconds: microseconds, source: source, key: key, sequence: sequence))
    }
}
