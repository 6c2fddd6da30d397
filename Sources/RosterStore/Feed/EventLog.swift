public import Foundation
import Logging
import PostgresNIO
public import RosterAuth
public import SCIM

/// Who made a change, as the change feed and the audit log name them.
public enum Actor: Sendable, Equatable {
    case scimToken(UUID)
    /// nil: the bootstrap key from configuration.
    case adminKey(UUID?)
    /// An admin user signed in with a password (a session) or through a key they own.
    case adminUser(UUID)
    /// The subject of a trusted OIDC issuer's access token, as "issuer subject".
    case oidc(String)
    /// A setup link, used by someone with no Roster account (the customer's IT admin).
    case setupLink(UUID)
    /// Roster itself (the CLI, migrations).
    case system

    public var type: String {
        switch self {
        case .scimToken: "scim_token"
        case .adminKey: "admin_key"
        case .adminUser: "admin_user"
        case .oidc: "oidc"
        case .setupLink: "setup_link"
        case .system: "system"
        }
    }

    public var id: UUID? {
        switch self {
        case .scimToken(let id): id
        case .adminKey(let id): id
        case .adminUser(let id): id
        case .setupLink(let id): id
        case .oidc, .system: nil
        }
    }

    /// The OIDC subject; nil for every other actor.
    public var subject: String? {
        if case .oidc(let subject) = self { subject } else { nil }
    }

    init(type: String, id: UUID?, subject: String? = nil) {
        switch (type, id) {
        case ("scim_token", let id?): self = .scimToken(id)
        case ("admin_key", let id): self = .adminKey(id)
        case ("admin_user", let id?): self = .adminUser(id)
        case ("oidc", _): self = .oidc(subject ?? "")
        case ("setup_link", let id?): self = .setupLink(id)
        default: self = .system
        }
    }
}

extension AdminPrincipal {
    /// The audit log's name for this principal.
    public var actor: Actor {
        switch identity {
        case .bootstrap: .adminKey(nil)
        case .key(let id): .adminKey(id)
        case .user(let id): .adminUser(id)
        case .oidc(let subject): .oidc(subject)
        }
    }
}

/// The request a change belongs to: every event it writes carries its actor and transaction id.
public struct ChangeContext: Sendable {
    public var actor: Actor
    /// Shared by every event of one request (all operations of a Bulk request too).
    public var transaction: UUID

    public init(actor: Actor, transaction: UUID = UUID()) {
        self.actor = actor
        self.transaction = transaction
    }
}

/// The kinds of change the feed records.
public enum EventType: String, Sendable, CaseIterable, Codable {
    case userCreated = "user.created"
    case userUpdated = "user.updated"
    case userDeactivated = "user.deactivated"
    case userReactivated = "user.reactivated"
    case userDeleted = "user.deleted"
    case groupCreated = "group.created"
    case groupUpdated = "group.updated"
    case groupDeleted = "group.deleted"
    case groupMembersAdded = "group.members.added"
    case groupMembersRemoved = "group.members.removed"

    /// The RFC 9967 security event URI a SCIM-events consumer maps it to.
    public var eventURI: String {
        let prefix = "urn:ietf:params:scim:event:prov:"
        return switch self {
        case .userCreated, .groupCreated: prefix + "create:notice"
        case .userUpdated, .groupUpdated, .groupMembersAdded, .groupMembersRemoved: prefix + "patch:notice"
        case .userDeactivated: prefix + "deactivate"
        case .userReactivated: prefix + "activate"
        case .userDeleted, .groupDeleted: prefix + "delete"
        }
    }

    var resourceType: String { rawValue.hasPrefix("user.") ? "User" : "Group" }
}

/// An event about to be written with its change.
struct NewEvent: Sendable {
    var type: EventType
    var resource: UUID
    var version: Int64
    var data: [String: JSONValue]
}

/// A recorded event, as readers get it.
public struct ChangeEvent: Sendable, Equatable {
    public var tenant: UUID
    /// The tenant's sequence number: commit order, without gaps (given once the change has committed).
    public var sequence: Int64
    /// Stable: the webhook's `webhook-id`.
    public var id: UUID
    public var type: EventType
    public var resourceType: String
    public var resourceID: UUID
    public var resourceVersion: Int64
    public var actor: Actor
    public var transaction: UUID
    public var occurred: Date
    public var data: [String: JSONValue]
}

/// A member that a change added to or removed from a group.
public struct MemberDelta: Sendable, Equatable {
    public var id: UUID
    public var type: MemberType
}

/// What the membership changes of one write came to: the rows really added and removed, net.
struct MembershipDelta: Sendable {
    private(set) var added: [UUID: MemberType] = [:]
    private(set) var removed: [UUID: MemberType] = [:]

    var isEmpty: Bool { added.isEmpty && removed.isEmpty }

    /// A member removed and added again in one request (or the reverse) comes to nothing.
    mutating func add(_ id: UUID, _ type: MemberType) {
        if removed.removeValue(forKey: id) == nil { added[id] = type }
    }

    mutating func remove(_ id: UUID, _ type: MemberType) {
        if added.removeValue(forKey: id) == nil { removed[id] = type }
    }

    /// `group.members.added` / `.removed` events for `group` at `version`.
    func events(group: UUID, version: Int64) -> [NewEvent] {
        func members(_ delta: [UUID: MemberType]) -> JSONValue {
            .array(delta.sorted { $0.key.uuidString < $1.key.uuidString }.map { id, type in
                ["value": .string(id.uuidString.lowercased()), "type": .string(type.rawValue)]
            })
        }
        var events: [NewEvent] = []
        if !added.isEmpty {
            events.append(NewEvent(type: .groupMembersAdded, resource: group, version: version, data: ["members": members(added)]))
        }
        if !removed.isEmpty {
            events.append(NewEvent(type: .groupMembersRemoved, resource: group, version: version, data: ["members": members(removed)]))
        }
        return events
    }
}

/// Writes events inside the transaction of their change, and reads them back in commit order.
public struct EventLog: Sendable {
    /// A stamp NOTIFYs this channel with the tenant's id when it numbers events, so every process's
    /// webhook dispatcher wakes at once instead of at its next poll.
    public static let channel = "roster_events"

    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    /// Appends `events` to the caller's transaction, unnumbered: they take their sequence numbers once
    /// committed (`stamp`), so writers of one tenant share no row and no lock (0017_events_without_tenant_lock.sql).
    /// The caller's process is told through `database.eventSignal` after its commit.
    static func append(
        _ events: [NewEvent], tenant: UUID, context: ChangeContext, connection: PostgresConnection, logger: Logger
    ) async throws {
        guard !events.isEmpty else { return }
        let batch = ResourceBody(["events": .array(events.map { event in
            [
                "type": .string(event.type.rawValue), "resource_type": .string(event.type.resourceType),
                "resource_id": .string(event.resource.uuidString), "version": .integer(Int(event.version)), "data": .object(event.data),
            ]
        })])
        // ORDER BY n: `pos` is drawn in that order, so a request's events keep their order.
        try await connection.query(
            """
            INSERT INTO events (tenant_id, id, type, resource_type, resource_id, resource_version,
                                actor_type, actor_id, transaction_id, occurred_at, data)
            SELECT \(tenant), gen_random_uuid(), e.event ->> 'type', e.event ->> 'resource_type',
                   (e.event ->> 'resource_id')::uuid, (e.event ->> 'version')::bigint,
                   \(context.actor.type), \(context.actor.id), \(context.transaction), now(), e.event -> 'data'
            FROM jsonb_array_elements(\(batch) -> 'events') WITH ORDINALITY AS e(event, n)
            ORDER BY e.n
            """, logger: logger)
    }

    /// Events numbered per call and tenant; a larger backlog takes several calls.
    static let stampBatch = 1000

    /// Gives the committed, unnumbered events of `tenant` (nil: of every tenant) their sequence numbers, and
    /// NOTIFYs `channel` for each tenant that got some. Returns how many were numbered per tenant.
    @discardableResult
    public func stamp(tenant: UUID? = nil) async throws -> [UUID: Int] {
        var stamped: [UUID: Int] = [:]
        while true {
            let rows = try await database.query("SELECT tenant, stamped FROM stamp_events(\(tenant)::uuid, \(Self.stampBatch))")
            var full = false
            for row in rows {
                let (tenant, count) = try row.decode((UUID, Int).self)
                stamped[tenant, default: 0] += count
                full = full || count == Self.stampBatch
            }
            if !full { return stamped }
        }
    }

    /// Events committed so far, every tenant and process together (retention does not lower it).
    public func committed() async throws -> Int {
        try await database.query(
            """
            SELECT ((SELECT coalesce(sum(last_seq), 0) FROM event_sequences) + (SELECT count(*) FROM events WHERE seq IS NULL))::bigint
            """).first?.decode(Int.self) ?? 0
    }

    /// What a reader asks for: events after a sequence number, optionally narrowed.
    public struct Query: Sendable {
        public var after: Int64
        /// The last sequence number to read (inclusive); nil: to the head. A range replay's end, for the dispatcher.
        public var through: Int64?
        public var limit: Int
        public var types: [EventType]?
        public var resource: UUID?
        public var since: Date?

        public init(
            after: Int64 = 0, through: Int64? = nil, limit: Int = 100, types: [EventType]? = nil, resource: UUID? = nil, since: Date? = nil
        ) {
            self.after = after
            self.through = through
            self.limit = limit
            self.types = types
            self.resource = resource
            self.since = since
        }
    }

    /// A tenant's events after `query.after`, in commit order. `stampFirst` numbers what has committed
    /// unnumbered first, so a client reading right after its own write sees its event. Only the partitions of the days
    /// that hold the events asked for are read (`EventSpan`).
    public func read(tenant: UUID, _ query: Query, stampFirst: Bool = true) async throws -> [ChangeEvent] {
        if stampFirst { try await stamp(tenant: tenant) }
        guard let spans = try await spans(tenant: tenant, after: query.after, through: query.through, pageSize: query.limit) else { return [] }
        // Unfiltered, the page is the events numbered up to `after + limit`, unless retention dropped some of them: then
        // it comes up short, and the whole span is read.
        if let first = spans.first, query.types == nil, query.resource == nil, query.since == nil {
            let page = try await database.query(Self.readStatement(tenant: tenant, query, within: first))
            if page.count == query.limit { return try page.map { try Self.event($0, tenant: tenant) } }
        }
        let rows = try await database.query(Self.readStatement(tenant: tenant, query, within: spans.all))
        return try rows.map { try Self.event($0, tenant: tenant) }
    }

    /// `read`'s statement, once it knows the span of the events it asks for.
    static func readStatement(tenant: UUID, _ query: Query, within span: EventSpan) -> PostgresQuery {
        let types = query.types?.map(\.rawValue)
        return """
            SELECT \(unescaped: Self.eventColumns)
            FROM events
            WHERE tenant_id = \(tenant) AND seq > \(query.after) AND \(within: span)
              AND (\(query.through)::bigint IS NULL OR seq <= \(query.through))
              AND (\(types)::text[] IS NULL OR type = ANY(\(types)::text[]))
              AND (\(query.resource)::uuid IS NULL OR resource_id = \(query.resource))
              AND (\(query.since)::timestamptz IS NULL OR occurred_at >= \(query.since))
            ORDER BY seq
            LIMIT \(query.limit)
            """
    }

    static let eventColumns = "seq, id, type, resource_type, resource_id, resource_version, actor_type, actor_id, transaction_id, occurred_at, data"

    /// An event of `eventColumns` (the row may have more columns after them).
    static func event(_ row: PostgresRow, tenant: UUID) throws -> ChangeEvent {
        let (seq, id, type, resourceType, resource, version, actorType, actorID, transaction, occurred, data) = try row.decode(
            (Int64, UUID, String, String, UUID, Int64, String, UUID?, UUID, Date, ResourceBody).self)
        guard let type = EventType(rawValue: type) else { throw StoreError.unavailable("unknown event type \(type)") }
        return ChangeEvent(
            tenant: tenant, sequence: seq, id: id, type: type, resourceType: resourceType, resourceID: resource,
            resourceVersion: version, actor: Actor(type: actorType, id: actorID), transaction: transaction, occurred: occurred,
            data: data.object)
    }
}
