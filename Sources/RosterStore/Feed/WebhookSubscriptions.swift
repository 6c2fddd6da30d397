public import Foundation
import PostgresNIO

/// Where a tenant's events go. The secret is not part of it: it is shown once, at creation or rotation.
public struct WebhookSubscription: Sendable, Equatable {
    public var tenant: UUID
    public var id: UUID
    public var url: String
    public var description: String
    /// nil: every event type.
    public var eventTypes: [EventType]?
    public var enabled: Bool
    /// Why Roster turned it off itself: `gone` when the receiver answered 410.
    public var disabledReason: String?
    /// When the retry schedule of an event ran out; nothing is sent until it is resumed (update or replay).
    public var pausedAt: Date?
    /// The sequence number of the last event delivered or given up.
    public var position: Int64
    /// Failed attempts at the event after `position`.
    public var attempts: Int
    public var nextAttemptAt: Date
    /// Until when the secret before the last rotation still signs beside the current one.
    public var previousSecretUntil: Date?
    public var created: Date
    public var updated: Date
    /// A range replay under way: after the event at `through`, `position` jumps to `resume`.
    public var replay: ReplayInProgress?
    public var format: WebhookFormat = .standardWebhooks
    /// The `aud` of its Security Event Tokens as an admin set it; nil: the URL.
    public var setAudience: String?

    /// The `aud` its Security Event Tokens carry.
    public var audience: String { setAudience ?? url }

    static let columns = """
        tenant_id, id, url, description, event_types, enabled, disabled_reason, paused_at, position, attempts,
        next_attempt_at, CASE WHEN previous_until > now() THEN previous_until END, created, updated, replay_through, resume_position,
        format, set_audience
        """

    init(_ row: PostgresRow) throws {
        let (tenant, id, url, description, types, enabled, reason, paused, position, attempts, next, previous, created, updated, through, resume,
             format, audience) =
            try row.decode(
                (UUID, UUID, String, String, [EventType]?, Bool, String?, Date?, Int64, Int, Date, Date?, Date, Date, Int64?, Int64?,
                 WebhookFormat, String?).self)
        self.init(
            tenant: tenant, id: id, url: url, description: description, eventTypes: types,
            enabled: enabled, disabledReason: reason, pausedAt: paused, position: position, attempts: attempts, nextAttemptAt: next,
            previousSecretUntil: previous, created: created, updated: updated)
        replay = ReplayInProgress(through: through, resume: resume)
        self.format = format
        setAudience = audience
    }

    init(
        tenant: UUID, id: UUID, url: String, description: String, eventTypes: [EventType]?, enabled: Bool, disabledReason: String?,
        pausedAt: Date?, position: Int64, attempts: Int, nextAttemptAt: Date, previousSecretUntil: Date?, created: Date, updated: Date
    ) {
        self.tenant = tenant
        self.id = id
        self.url = url
        self.description = description
        self.eventTypes = eventTypes
        self.enabled = enabled
        self.disabledReason = disabledReason
        self.pausedAt = pausedAt
        self.position = position
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.previousSecretUntil = previousSecretUntil
        self.created = created
        self.updated = updated
    }
}

/// One attempt to deliver an event (or a test event) to a subscription.
public struct WebhookDelivery: Sendable, Equatable {
    public enum Outcome: String, Sendable {
        /// 2xx within the timeout.
        case succeeded
        /// Failed; another attempt is scheduled at `nextRetryAt`.
        case retrying
        /// Failed, and the schedule is spent: the subscription is paused.
        case failed
        /// 410 Gone: the subscription is disabled.
        case disabled
    }

    public var id: UUID
    /// nil for a test event.
    public var eventSequence: Int64?
    public var eventID: UUID
    public var attempt: Int
    public var attemptedAt: Date
    public var statusCode: Int?
    public var outcome: Outcome
    public var error: String?
    public var latencyMilliseconds: Int
    public var nextRetryAt: Date?

    public init(
        id: UUID = UUID(), eventSequence: Int64?, eventID: UUID, attempt: Int, attemptedAt: Date = Date(), statusCode: Int?,
        outcome: Outcome, error: String?, latencyMilliseconds: Int, nextRetryAt: Date?
    ) {
        self.id = id
        self.eventSequence = eventSequence
        self.eventID = eventID
        self.attempt = attempt
        self.attemptedAt = attemptedAt
        self.statusCode = statusCode
        self.outcome = outcome
        self.error = error
        self.latencyMilliseconds = latencyMilliseconds
        self.nextRetryAt = nextRetryAt
    }
}

/// Webhook subscriptions of each tenant, and their delivery log.
public struct WebhookSubscriptions: Sendable {
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    /// A new subscription receives the events written from now on (replay reaches back). Recorded in the audit log.
    public func create(
        tenant: UUID, url: String, eventTypes: [EventType]?, description: String, format: WebhookFormat = .standardWebhooks,
        setAudience: String? = nil, by context: AuditContext
    ) async throws -> (WebhookSubscription, WebhookSecret) {
        let secret = WebhookSecret.generate()
        let id = UUID()
        let stored = try WebhookSecretColumns.store(secret, tenant: tenant, id: id, in: database.secrets)
        // "From now on": what has committed before this moment is numbered first, so it stays behind the position.
        try await EventLog(database: database).stamp(tenant: tenant)
        let rows = try await database.query(
            """
            WITH subscription AS (
                INSERT INTO webhook_subscriptions (tenant_id, id, url, description, event_types, format, set_audience, secret, secret_sealed, position)
                VALUES (\(tenant), \(id), \(url), \(description), \(eventTypes?.map(\.rawValue)), \(format), \(setAudience),
                        \(stored.text), \(stored.sealed),
                        coalesce((SELECT last_seq FROM event_sequences WHERE tenant_id = \(tenant)), 0))
                RETURNING *),
            audit AS (\(audit: .webhookCreated, by: context, from: "subscription", tenant: "tenant_id", target: "id", details: Self.auditDetails))
            SELECT \(unescaped: WebhookSubscription.columns) FROM subscription
            """)
        guard let row = rows.first else { throw StoreError.notFound("subscription") }
        return (try WebhookSubscription(row), secret)
    }

    /// A subscription's audit details, from its row: never the secret, and the URL only as its origin,
    /// since a receiver's path or query can itself be a secret (Slack-style hook URLs).
    static let auditDetails = """
        jsonb_build_object('url_origin', substring(url from '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*'), 'description', description,
                           'event_types', to_jsonb(event_types), 'enabled', enabled, 'format', format,
                           'set_audience_origin', substring(set_audience from '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*'))
        """

    /// A page of the tenant's subscriptions, oldest first.
    public func page(tenant: UUID, after position: CreatedPosition?, limit: Int) async throws -> ListPage<WebhookSubscription, CreatedPosition> {
        let rows = try await database.query(
            """
            SELECT \(unescaped: WebhookSubscription.columns), \(unescaped: CreatedPosition.createdColumn) FROM webhook_subscriptions
            WHERE tenant_id = \(tenant) AND \(after: position)
            ORDER BY created, id LIMIT \(limit + 1)
            """)
        return try .inCreationOrder(rows, limit: limit, decode: { try $0.map(WebhookSubscription.init) }, id: \.id)
    }

    /// Every subscription of the tenant, oldest first.
    public func list(tenant: UUID) async throws -> [WebhookSubscription] {
        try await ListPage.all { try await page(tenant: tenant, after: $0, limit: $1) }
    }

    public func get(tenant: UUID, id: UUID) async throws -> WebhookSubscription? {
        try await database.query(
            "SELECT \(unescaped: WebhookSubscription.columns) FROM webhook_subscriptions WHERE tenant_id = \(tenant) AND id = \(id)"
        ).first.map(WebhookSubscription.init)
    }

    /// What an update may change; nil leaves a field as it is. Enabling (again) also resumes a
    /// paused subscription and clears why Roster disabled it; sending starts over at the event after `position`.
    public struct Change: Sendable {
        public var url: String?
        /// `.some(nil)`: every type again.
        public var eventTypes: [EventType]??
        public var description: String?
        public var enabled: Bool?
        /// Applies from the next attempt the dispatcher prepares: position, attempts and retry times stay as they are.
        public var format: WebhookFormat?
        /// `.some(nil)`: the URL again.
        public var setAudience: String??

        public init(
            url: String? = nil, eventTypes: [EventType]?? = nil, description: String? = nil, enabled: Bool? = nil, format: WebhookFormat? = nil,
            setAudience: String?? = nil
        ) {
            self.url = url
            self.eventTypes = eventTypes
            self.description = description
            self.enabled = enabled
            self.format = format
            self.setAudience = setAudience
        }

        /// The API names of the fields this change sets, as a SQL array (a closed set of literals).
        var fieldsSQL: String {
            let names = [
                (url != nil, "url"), (eventTypes != nil, "event_types"), (description != nil, "description"), (enabled != nil, "enabled"),
                (format != nil, "format"), (setAudience != nil, "set_audience"),
            ]
            return "ARRAY[" + names.filter(\.0).map { "'\($0.1)'" }.joined(separator: ", ") + "]::text[]"
        }
    }

    /// Applies `change`, recorded in the audit log with the names of the fields it changed.
    public func update(tenant: UUID, id: UUID, _ change: Change, by context: AuditContext) async throws -> WebhookSubscription? {
        let types: [String]? = change.eventTypes.flatMap { $0?.map(\.rawValue) }
        let resume = change.enabled == true
        return try await database.query(
            """
            WITH subscription AS (
                UPDATE webhook_subscriptions SET
                    url = coalesce(\(change.url), url),
                    description = coalesce(\(change.description), description),
                    event_types = CASE WHEN \(change.eventTypes != nil) THEN \(types) ELSE event_types END,
                    enabled = coalesce(\(change.enabled), enabled),
                    format = coalesce(\(change.format), format),
                    set_audience = CASE WHEN \(change.setAudience != nil) THEN \(change.setAudience ?? nil) ELSE set_audience END,
                    disabled_reason = CASE WHEN \(resume) THEN NULL ELSE disabled_reason END,
                    paused_at = CASE WHEN \(resume) THEN NULL ELSE paused_at END,
                    attempts = CASE WHEN \(resume) THEN 0 ELSE attempts END,
                    next_attempt_at = CASE WHEN \(resume) THEN now() ELSE next_attempt_at END,
                    updated = now()
                WHERE tenant_id = \(tenant) AND id = \(id)
                RETURNING *),
            audit AS (\(audit: .webhookUpdated, by: context, from: "subscription", tenant: "tenant_id", target: "id",
                          details: Self.auditDetails + " || jsonb_build_object('changed', \(change.fieldsSQL))"))
            SELECT \(unescaped: WebhookSubscription.columns) FROM subscription
            """
        ).first.map(WebhookSubscription.init)
    }

    /// Deletes a subscription and its delivery log, recorded in the audit log; false when there is no such subscription.
    public func delete(tenant: UUID, id: UUID, by context: AuditContext) async throws -> Bool {
        !(try await database.query(
            """
            WITH subscription AS (DELETE FROM webhook_subscriptions WHERE tenant_id = \(tenant) AND id = \(id) RETURNING *),
            audit AS (\(audit: .webhookDeleted, by: context, from: "subscription", tenant: "tenant_id", target: "id", details: Self.auditDetails))
            SELECT id FROM subscription
            """)).isEmpty
    }

    /// A new secret; the current one keeps signing beside it for `overlap`. Recorded in the audit log (never a secret).
    public func rotateSecret(
        tenant: UUID, id: UUID, overlap: Duration, by context: AuditContext
    ) async throws -> (WebhookSubscription, WebhookSecret)? {
        let secret = WebhookSecret.generate()
        let stored = try WebhookSecretColumns.store(secret, tenant: tenant, id: id, in: database.secrets)
        let seconds = Double(overlap.components.seconds)
        let rows = try await database.query(
            """
            WITH subscription AS (
                UPDATE webhook_subscriptions SET previous_secret = secret, previous_secret_sealed = secret_sealed,
                    secret = \(stored.text), secret_sealed = \(stored.sealed),
                    previous_until = now() + make_interval(secs => \(seconds)), updated = now()
                WHERE tenant_id = \(tenant) AND id = \(id)
                RETURNING *),
            audit AS (\(audit: .webhookSecretRotated, by: context, from: "subscription", tenant: "tenant_id", target: "id",
                          details: "jsonb_build_object('previous_secret_expires_at', \(AuditSQL.date("previous_until")))"))
            SELECT \(unescaped: WebhookSubscription.columns) FROM subscription
            """)
        return try rows.first.map { (try WebhookSubscription($0), secret) }
    }

    /// Where a subscription's webhooks go, and the secrets that sign them now.
    public func target(tenant: UUID, id: UUID) async throws -> (url: String, secrets: [WebhookSecret])? {
        try await database.query(
            """
            SELECT url, \(unescaped: WebhookSecretColumns.signing())
            FROM webhook_subscriptions WHERE tenant_id = \(tenant) AND id = \(id)
            """
        ).first.map { row in
            let (url, secret, sealed, previous, previousSealed) = try row.decode((String, String?, Data?, String?, Data?).self)
            return (url, try WebhookSecretColumns.reveal(
                current: (secret, sealed), previous: (previous, previousSealed), tenant: tenant, id: id, in: database.secrets))
        }
    }

    /// Logs a test event's attempt in the delivery log, and as `webhook.test_sent` in the audit log.
    public func recordTest(_ delivery: WebhookDelivery, tenant: UUID, subscription: UUID, by context: AuditContext) async throws {
        try await database.query(
            """
            WITH target AS (SELECT \(tenant)::uuid AS tenant_id, \(subscription)::uuid AS id),
            delivery AS (
                \(insertDelivery: delivery, from: "target")
                RETURNING *),
            audit AS (\(audit: .webhookTestSent, by: context, from: "delivery", tenant: "tenant_id", target: "subscription_id",
                          details: "jsonb_strip_nulls(jsonb_build_object('outcome', outcome, 'status_code', status_code, 'event_id', event_id))"))
            SELECT 1 FROM delivery
            """)
    }

    /// The latest `limit` attempts, the latest first.
    public func deliveries(tenant: UUID, subscription: UUID, limit: Int = 100) async throws -> [WebhookDelivery] {
        try await deliveryPage(tenant: tenant, subscription: subscription, after: nil, limit: limit).items
    }

    /// A page of a subscription's attempts, the latest first: by time, then attempt number, then id.
    public func deliveryPage(
        tenant: UUID, subscription: UUID, after position: DeliveryPosition?, limit: Int
    ) async throws -> ListPage<WebhookDelivery, DeliveryPosition> {
        let rows = try await database.query(Self.deliveryPageStatement(tenant: tenant, subscription: subscription, after: position, limit: limit))
        let shown = try rows.prefix(limit).map { row in
            let (id, seq, event, attempt, at, status, outcome, error, latency, next, microseconds) = try row.decode(
                (UUID, Int64?, UUID, Int, Date, Int?, WebhookDelivery.Outcome, String?, Int, Date?, Int64).self)
            let delivery = WebhookDelivery(
                id: id, eventSequence: seq, eventID: event, attempt: attempt, attemptedAt: at, statusCode: status,
                outcome: outcome, error: error, latencyMilliseconds: latency, nextRetryAt: next)
            return (delivery, DeliveryPosition(microseconds: microseconds, attempt: attempt, id: id))
        }
        return ListPage(items: shown.map(\.0), next: rows.count > limit ? shown.last?.1 : nil)
    }

    /// `deliveryPage`'s statement.
    static func deliveryPageStatement(tenant: UUID, subscription: UUID, after position: DeliveryPosition?, limit: Int) -> PostgresQuery {
        // The cursor's time, as a bound of attempted_at alone (the row comparison does not bound it for the planner), so
        // the partitions after it are not read; a second later than the cursor, so a Date's rounding cannot cut it.
        let newest = position.map { Date(timeIntervalSince1970: Double($0.microseconds) / 1_000_000 + 1) }
        return """
            SELECT id, event_seq, event_id, attempt, attempted_at, status_code, outcome, error, latency_ms, next_retry_at,
                   \(unescaped: CreatedPosition.microseconds(of: "attempted_at"))
            FROM webhook_deliveries
            WHERE tenant_id = \(tenant) AND subscription_id = \(subscription)
              AND (\(newest)::timestamptz IS NULL OR attempted_at <= \(newest))
              AND (\(position?.microseconds)::bigint IS NULL
                   OR (attempted_at, attempt, id) < (timestamptz 'epoch' + \(position?.microseconds)::bigint * interval '1 microsecond',
                                                     \(position?.attempt)::bigint, \(position?.id)::uuid))
            ORDER BY attempted_at DESC, attempt DESC, id DESC LIMIT \(limit + 1)
            """
    }
}

/// How far behind a subscription is: its state and the age of its oldest undelivered event.
public struct SubscriptionLag: Sendable, Equatable {
    public enum State: String, Sendable {
        case active, paused, disabled
    }

    public var tenant: UUID
    public var id: UUID
    public var state: State
    /// When the oldest event it has not yet received occurred; nil when it is up to date.
    public var oldestPending: Date?

    public func lag(at now: Date = Date()) -> TimeInterval { oldestPending.map { max(0, now.timeIntervalSince($0)) } ?? 0 }
}

extension WebhookSubscriptions {
    /// Every subscription's lag, most behind first (for health and metrics; at most `limit`).
    public func lags(limit: Int = 1000, tenants: Set<UUID>? = nil) async throws -> [SubscriptionLag] {
        try await database.query(
            """
            SELECT s.tenant_id, s.id, s.enabled, s.paused_at IS NOT NULL,
                   (SELECT e.occurred_at FROM events e
                    WHERE e.tenant_id = s.tenant_id AND e.seq > s.position AND (s.event_types IS NULL OR e.type = ANY(s.event_types))
                      AND e.occurred_at >= (SELECT min(x.day) FROM event_days x WHERE x.tenant_id = s.tenant_id AND x.last_seq > s.position)
                    ORDER BY e.seq LIMIT 1) AS oldest
            FROM webhook_subscriptions s
            WHERE \(tenants == nil) OR s.tenant_id = ANY(\(tenants.map(Array.init) ?? []))
            ORDER BY oldest NULLS LAST, s.created
            LIMIT \(limit)
            """
        ).map { row in
            let (tenant, id, enabled, paused, oldest) = try row.decode((UUID, UUID, Bool, Bool, Date?).self)
            let state: SubscriptionLag.State = !enabled ? .disabled : paused ? .paused : .active
            return SubscriptionLag(tenant: tenant, id: id, state: state, oldestPending: oldest)
        }
    }
}

/// Where a subscription's delivery log, read latest first, goes on from: its last attempt's time (whole
/// microseconds), attempt number and id.
public struct DeliveryPosition: Sendable, Equatable {
    public var microseconds: Int64
    public var attempt: Int
    public var id: UUID

    /// The cursor of this position in the log of `subscription` (of `tenant`).
    public func cursor(tenant: UUID, subscription: UUID) -> String {
        ListCursor.encode(
            .webhookDeliveries,
            [ListCursor.scope(tenant), ListCursor.scope(subscription), String(microseconds), String(attempt), id.uuidString.lowercased()])
    }

    /// nil when `cursor` is not one of the delivery log of `subscription` (of `tenant`).
    public init?(cursor: String, tenant: UUID, subscription: UUID) {
        guard let fields = ListCursor.fields(cursor, of: .webhookDeliveries, count: 5), fields[0] == ListCursor.scope(tenant),
            fields[1] == ListCursor.scope(subscription), let microseconds = ListCursor.microseconds(fields[2]), let attempt = Int(fields[3]),
            let id = UUID(uuidString: fields[4])
        else { return nil }
        self.init(microseconds: microseconds, attempt: attempt, id: id)
    }

    public init(microseconds: Int64, attempt: Int, id: UUID) {
        self.microseconds = microseconds
        self.attempt = attempt
        self.id = id
    }
}
