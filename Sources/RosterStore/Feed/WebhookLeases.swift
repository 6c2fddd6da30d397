public import Foundation
public import Logging
import PostgresNIO

/// A subscription whose lease this process holds, with what sending to it needs.
public struct LeasedSubscription: Sendable {
    public var tenant: UUID
    public var id: UUID
    public var url: String
    public var types: [EventType]?
    public var secrets: [WebhookSecret]
    /// The sequence number of the last event delivered or given up.
    public var position: Int64
    /// Failed attempts at the event after `position`.
    public var attempts: Int
    /// A range replay under way: events after its end, up to where it resumes, are not sent again.
    public var replay: ReplayInProgress?
    public var format: WebhookFormat = .standardWebhooks
    /// The `aud` of its Security Event Tokens: the one set, or the URL.
    public var audience = ""
    /// False once a statement of this worker handed the lease back or found it lost.
    public var holdsLease = true
}

/// Where a subscription stands after a statement of its worker moved it: its `position`, and the range replay
/// still under way, if any.
public struct WebhookProgress: Sendable, Equatable {
    public var position: Int64
    public var replay: ReplayInProgress?

    public init(position: Int64, replay: ReplayInProgress?) {
        self.position = position
        self.replay = replay
    }

    init(_ row: PostgresRow) throws {
        let (position, through, resume) = try row.decode((Int64, Int64?, Int64?).self)
        self.init(position: position, replay: ReplayInProgress(through: through, resume: resume))
    }
}

/// The dispatcher's statements: leases on subscriptions (a row lease, `lease_owner` and `lease_until`, taken with
/// `FOR UPDATE SKIP LOCKED`), and each attempt recorded with the subscription moved on, in one statement.
///
/// A lease is bound to its owner's database session as well as to its time: every dispatcher holds a liveness lock
/// (`holdLiveness`, a session-level advisory lock keyed by its owner id) on one session, and PostgreSQL releases it the
/// moment that session ends, however the process died (a SIGKILL closes its sockets; a lost host, after TCP keepalive).
/// A lease whose owner's lock is not held is free at once; `lease_until` still bounds a lease whose owner is alive but
/// stuck.
public struct WebhookLeases: Sendable {
    let database: RosterDatabase
    /// This process's lease owner id.
    public let owner: UUID

    public init(database: RosterDatabase, owner: UUID) {
        self.database = database
        self.owner = owner
    }

    /// The first key of every liveness lock (`pg_advisory_lock(int, int)`: "Rost"); the second is `hashtext(owner)`.
    static let livenessClass: Int32 = 0x526F_7374

    /// The owners whose liveness lock is held now, as `pg_locks` shows the second key (an oid), for the claim's
    /// `live` CTE. One read of the lock table per claim, not one per subscription.
    static let liveOwners = """
        SELECT objid FROM pg_locks
        WHERE locktype = 'advisory' AND classid = \(livenessClass) AND objsubid = 2 AND granted
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        """

    /// Whether the lease of the subscription row `alias` is free: none, expired, its owner's session gone, or this
    /// process's own lease on a subscription none of its workers has (`working`; nil: all of its own leases are in use).
    /// (A worker whose statement failed, the database gone, leaves its lease behind: after a failover it is taken
    /// back at once, not after the lease time.) A subscription one of this process's workers has is never free to this
    /// process, even past its lease time (an attempt slower than the lease): two workers of one process share its owner
    /// id, so the second would not stop the first from recording its attempt, and the events would go out of order.
    static func leaseFree(_ alias: String, owner: UUID, working: Set<UUID>?) -> String {
        let me = "'\(owner.uuidString.lowercased())'"
        let free = """
            (\(alias).lease_until IS NULL OR \(alias).lease_until < now()
                 OR (\(alias).lease_owner <> \(me)
                     AND (hashtext(\(alias).lease_owner::text)::bigint & 4294967295)::oid NOT IN (SELECT objid FROM live))
            """
        guard let working else { return free + ")" }
        let ids = "'{\(working.map { $0.uuidString.lowercased() }.joined(separator: ","))}'::uuid[]"
        return """
            \(free)     OR (\(alias).lease_owner = \(me) AND \(alias).id <> ALL (\(ids))))
                AND NOT (\(alias).lease_owner IS NOT DISTINCT FROM \(me) AND \(alias).id = ANY (\(ids)))
            """
    }

    /// Takes this process's liveness lock on one session and holds it as long as that session lasts, LISTENing on it
    /// for stamps of new events (`stamped` on each): `held` is called once the lock is held. Returns or throws when
    /// the session ends; the lock goes with it. (A LISTEN needs a session anyway: one connection serves both.)
    /// (`withSession`: behind a transaction-mode pooler a session lock would stay on whichever server session it was
    /// taken on, for other clients.)
    public func holdLiveness(stamped: @escaping @Sendable () -> Void, held: @escaping @Sendable () -> Void) async throws {
        try await database.withSession { connection in
            // Waits while a previous session of this process still holds it (its backend not yet gone).
            try await connection.query(
                "SELECT pg_advisory_lock(\(Self.livenessClass), hashtext(\(owner.uuidString.lowercased())))", logger: database.logger)
            let stamps = try await connection.listen(EventLog.channel)
            held()
            for try await _ in stamps { stamped() }
        }
    }

    /// Takes the lease (for `lease`) of up to `limit` subscriptions that have an event due, none of a tenant beyond
    /// `tenantLimit` workers (`busy`: this process's workers per tenant now). Free workers go to tenants in turn:
    /// each tenant's next subscription is ranked by how many workers that tenant would then hold. A subscription
    /// whose secret does not open is logged and left out (its lease lapses and it is tried again).
    /// `working`: the subscriptions this process's workers have now (nil: unknown, so none of its own leases is taken back).
    public func claim(
        limit: Int, busy: [UUID: Int], working: Set<UUID>? = nil, tenantLimit cap: Int, lease: Duration, logger: Logger
    ) async throws -> [LeasedSubscription] {
        let tenants = Array(busy.keys), workers = tenants.map { busy[$0] ?? 0 }
        // Per tenant with events and subscriptions, below its cap: its oldest due subscriptions, read from
        // (tenant_id, next_attempt_at) only as far as its remaining share, so a tenant with thousands due costs
        // no more than one with a few. `position < last_seq` skips idle subscriptions without touching events;
        // the LATERAL ... LIMIT 1 probes events by (tenant_id, seq), which an EXISTS let the planner turn into
        // a scan of all the tenant's events. Its ORDER BY keeps it to each partition's index (without one, the planner
        // took bitmap scans that read every event after `position`: 1.6 s a claim over 2 million events), and the
        // bound on occurred_at from event_days (0023) to the partitions of the days holding events after `position`.
        // FOR UPDATE cannot sit beside a window function, so the rows are locked (and their lease checked again,
        // should another process have taken one meanwhile) a level up.
        let rows = try await database.query(
            """
            WITH live AS MATERIALIZED (\(unescaped: Self.liveOwners))
            UPDATE webhook_subscriptions s SET lease_owner = \(owner), lease_until = now() + \(Self.interval(lease))::interval
            FROM (
                SELECT w.tenant_id, w.id FROM webhook_subscriptions w
                JOIN (
                    SELECT c.tenant_id, c.id, c.next_attempt_at,
                           t.workers + row_number() OVER (PARTITION BY c.tenant_id ORDER BY c.next_attempt_at, c.id) AS slot
                    FROM (
                        SELECT q.tenant_id, q.last_seq, coalesce(b.workers, 0) AS workers
                        FROM event_sequences q
                        LEFT JOIN unnest(\(tenants)::uuid[], \(workers)::bigint[]) AS b (tenant_id, workers) ON b.tenant_id = q.tenant_id
                        WHERE coalesce(b.workers, 0) < \(cap)
                          AND q.tenant_id IN (SELECT tenant_id FROM webhook_subscriptions WHERE enabled AND paused_at IS NULL)
                    ) t
                    CROSS JOIN LATERAL (
                        SELECT d.tenant_id, d.id, d.next_attempt_at FROM webhook_subscriptions d
                        CROSS JOIN LATERAL (
                            SELECT FROM events e
                            WHERE e.tenant_id = d.tenant_id AND e.seq > d.position AND (d.event_types IS NULL OR e.type = ANY(d.event_types))
                              AND e.occurred_at >= (SELECT min(x.day) FROM event_days x WHERE x.tenant_id = d.tenant_id AND x.last_seq > d.position)
                            ORDER BY e.seq
                            LIMIT 1
                        ) pending
                        WHERE d.tenant_id = t.tenant_id AND d.enabled AND d.paused_at IS NULL AND d.next_attempt_at <= now()
                          AND \(unescaped: Self.leaseFree("d", owner: owner, working: working)) AND d.position < t.last_seq
                        ORDER BY d.next_attempt_at, d.id
                        LIMIT \(cap) - t.workers
                    ) c
                ) ranked ON w.tenant_id = ranked.tenant_id AND w.id = ranked.id
                WHERE w.enabled AND w.paused_at IS NULL AND w.next_attempt_at <= now()
                  AND \(unescaped: Self.leaseFree("w", owner: owner, working: working))
                -- The next worker goes to the tenant that would then hold the fewest; among equals, the longest due.
                ORDER BY ranked.slot, ranked.next_attempt_at, w.tenant_id
                LIMIT \(limit)
                FOR UPDATE OF w SKIP LOCKED
            ) due
            WHERE s.tenant_id = due.tenant_id AND s.id = due.id
            RETURNING s.tenant_id, s.id, s.url, s.event_types, s.position, s.attempts, s.replay_through, s.resume_position,
                      \(unescaped: WebhookSecretColumns.signing("s")), s.format, coalesce(s.set_audience, s.url)
            """)
        return try rows.compactMap { row in
            let (tenant, id, url, types, position, attempts, through, resume, secret, sealed, previous, previousSealed, format, audience) =
                try row.decode((UUID, UUID, String, [EventType]?, Int64, Int, Int64?, Int64?, String?, Data?, String?, Data?, WebhookFormat, String).self)
            do {
                let secrets = try WebhookSecretColumns.reveal(
                    current: (secret, sealed), previous: (previous, previousSealed), tenant: tenant, id: id, in: database.secrets)
                return LeasedSubscription(
                    tenant: tenant, id: id, url: url, types: types, secrets: secrets, position: position, attempts: attempts,
                    replay: ReplayInProgress(through: through, resume: resume), format: format, audience: audience)
            } catch let error as SecretsAtRestError {
                // One subscription whose secret does not open must not stop the others.
                logger.error("Webhook dispatcher: a subscription's signing secret cannot be read", metadata: [
                    "subscription": "\(id)", "error": "\(error.description)"])
                return nil
            }
        }
    }

    /// The subscription as it is now, while this process holds its lease and it may still be sent to
    /// (an admin may have changed the URL, the types or the secret, or disabled it, or replayed, meanwhile).
    public func refreshed(_ subscription: LeasedSubscription) async throws -> LeasedSubscription? {
        try await database.query(
            """
            SELECT url, event_types, position, attempts, replay_through, resume_position, \(unescaped: WebhookSecretColumns.signing()),
                   format, coalesce(set_audience, url)
            FROM webhook_subscriptions
            WHERE tenant_id = \(subscription.tenant) AND id = \(subscription.id) AND lease_owner = \(owner)
              AND enabled AND paused_at IS NULL
            """
        ).first.map { row in
            let (url, types, position, attempts, through, resume, secret, sealed, previous, previousSealed, format, audience) = try row.decode(
                (String, [EventType]?, Int64, Int, Int64?, Int64?, String?, Data?, String?, Data?, WebhookFormat, String).self)
            var current = subscription
            current.url = url
            current.types = types
            current.position = position
            current.attempts = attempts
            current.replay = ReplayInProgress(through: through, resume: resume)
            current.format = format
            current.audience = audience
            current.secrets = try WebhookSecretColumns.reveal(
                current: (secret, sealed), previous: (previous, previousSealed), tenant: subscription.tenant, id: subscription.id,
                in: database.secrets)
            return current
        }
    }

    /// Hands one lease back, if this process still holds it.
    public func release(_ subscription: LeasedSubscription) async throws {
        try await database.query(
            """
            UPDATE webhook_subscriptions SET lease_owner = NULL, lease_until = NULL
            WHERE tenant_id = \(subscription.tenant) AND id = \(subscription.id) AND lease_owner = \(owner)
            """)
    }

    /// On shutdown, hands every lease of this process back at once instead of after the lease time.
    public func releaseAll() async {
        _ = try? await database.query(
            "UPDATE webhook_subscriptions SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = \(owner)")
    }

    /// Records one attempt and moves the subscription on, in one statement: after a success, past the event with
    /// the lease renewed for `lease`; after a failure, to its next attempt in `delay` with the lease handed back
    /// (and disabled on `.disabled`, paused on `.failed`). A success at the end of a range replay (the event at
    /// `replay_through`, or past it) moves `position` on to `resume_position` instead, if that is further, and ends
    /// the range. Returns where the subscription now stands; nil when it matched nothing: this process lost the lease
    /// (another took over), an admin disabled or paused the subscription meanwhile, or replayed it (its `position`
    /// is no longer the one this attempt followed). Then the attempt is not recorded, and the event is sent again.
    public func record(
        _ delivery: WebhookDelivery, of subscription: LeasedSubscription, delay: Duration, lease: Duration
    ) async throws -> WebhookProgress? {
        let succeeded = delivery.outcome == .succeeded
        let sequence = delivery.eventSequence ?? subscription.position
        // SET reads the row as it was: `replay_through` and `resume_position` are those of the range under way now.
        return try await database.query(
            """
            WITH moved AS (
                UPDATE webhook_subscriptions SET
                    position = CASE WHEN NOT \(succeeded) THEN position
                                    WHEN \(sequence) >= replay_through THEN greatest(resume_position, \(sequence))
                                    ELSE \(sequence) END,
                    resume_position = CASE WHEN \(succeeded) AND \(sequence) >= replay_through THEN NULL ELSE resume_position END,
                    replay_through = CASE WHEN \(succeeded) AND \(sequence) >= replay_through THEN NULL ELSE replay_through END,
                    attempts = \(succeeded ? 0 : delivery.attempt),
                    next_attempt_at = now() + \(Self.interval(delay))::interval,
                    enabled = enabled AND \(delivery.outcome != .disabled),
                    disabled_reason = CASE WHEN \(delivery.outcome == .disabled) THEN 'gone' ELSE disabled_reason END,
                    paused_at = CASE WHEN \(delivery.outcome == .failed) THEN now() ELSE paused_at END,
                    lease_owner = CASE WHEN \(succeeded) THEN lease_owner END,
                    lease_until = CASE WHEN \(succeeded) THEN now() + \(Self.interval(lease))::interval END
                WHERE tenant_id = \(subscription.tenant) AND id = \(subscription.id) AND lease_owner = \(owner)
                  AND enabled AND paused_at IS NULL AND position = \(subscription.position)
                RETURNING tenant_id, id, position, replay_through, resume_position
            ),
            attempt AS (
                \(insertDelivery: delivery, from: "moved")
            )
            SELECT position, replay_through, resume_position FROM moved
            """
        ).first.map(WebhookProgress.init)
    }

    /// Ends a range replay none of whose events left (after `position`, through its end) are of the subscription's
    /// types: `position` moves on to the range's end, or to where it resumes if that is further. nil, as `record`.
    public func finishReplay(of subscription: LeasedSubscription, lease: Duration) async throws -> WebhookProgress? {
        guard let replay = subscription.replay else { return WebhookProgress(position: subscription.position, replay: nil) }
        return try await database.query(
            """
            UPDATE webhook_subscriptions SET
                position = greatest(resume_position, replay_through), resume_position = NULL, replay_through = NULL,
                lease_until = now() + \(Self.interval(lease))::interval
            WHERE tenant_id = \(subscription.tenant) AND id = \(subscription.id) AND lease_owner = \(owner)
              AND enabled AND paused_at IS NULL AND position = \(subscription.position) AND replay_through = \(replay.through)
            RETURNING position, replay_through, resume_position
            """
        ).first.map(WebhookProgress.init)
    }

    static func interval(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return "\(Double(seconds) + Double(attoseconds) / 1e18) seconds"
    }
}

extension PostgresQuery.StringInterpolation {
    /// The one INSERT of a delivery attempt, for the subscriptions of `source` (a CTE or subquery with the columns
    /// `tenant_id` and `id`): the dispatcher's attempts and the test sends both write it.
    mutating func appendInterpolation(insertDelivery delivery: WebhookDelivery, from source: String) {
        appendLiteral(
            """
            INSERT INTO webhook_deliveries (tenant_id, subscription_id, id, event_seq, event_id, attempt, status_code, outcome,
                                            error, latency_ms, next_retry_at)
            SELECT \(source).tenant_id, \(source).id, 
            """)
        appendInterpolation(delivery.id)
        appendLiteral(", ")
        appendInterpolation(delivery.eventSequence)
        appendLiteral(", ")
        appendInterpolation(delivery.eventID)
        appendLiteral(", ")
        appendInterpolation(delivery.attempt)
        appendLiteral(", ")
        appendInterpolation(delivery.statusCode)
        appendLiteral(", ")
        appendInterpolation(delivery.outcome.rawValue)
        appendLiteral(", ")
        appendInterpolation(delivery.error)
        appendLiteral(", ")
        appendInterpolation(delivery.latencyMilliseconds)
        appendLiteral(", ")
        appendInterpolation(delivery.nextRetryAt)
        appendLiteral(" FROM \(source)")
    }
}
