public import Foundation
import PostgresNIO

/// A range replay under way (`WebhookSubscriptions.replay` with an end): the events up to `through` are sent
/// again, and the statement that records the delivery of `through` (or of the first event past it) moves
/// `position` on to `resume`, where the subscription had got, so the events between are not sent twice.
public struct ReplayInProgress: Sendable, Equatable {
    /// The sequence number of the range's last event.
    public var through: Int64
    /// Where `position` goes once `through` is delivered (if it is further than `through`).
    public var resume: Int64

    public init(through: Int64, resume: Int64) {
        self.through = through
        self.resume = resume
    }

    /// nil unless both columns are set (a CHECK constraint keeps them set or unset together).
    init?(through: Int64?, resume: Int64?) {
        guard let through, let resume else { return nil }
        self.init(through: through, resume: resume)
    }
}

/// What a replay came to.
public enum ReplayOutcome: Sendable, Equatable {
    /// The subscription as it is now: it sends again from the first event.
    case replayed(WebhookSubscription)
    /// No such subscription in the tenant.
    case noSuchSubscription
    /// This id is not an event of the tenant's feed (never was, another tenant's, or gone with retention).
    case noSuchEvent(UUID)
    /// The range's last event comes before its first in the tenant's order (their sequence numbers).
    case reversed(from: Int64, through: Int64)
}

extension WebhookSubscriptions {
    /// Sends the events from `from` (inclusive) again, in order, and resumes a paused subscription; recorded in the
    /// audit log (`webhook.replayed`, with the events' ids and sequence numbers).
    ///
    /// Without `through`, everything from `from` on: `position` moves to just before it (wherever that is) and a
    /// range under way ends. With `through` (inclusive; `from` itself for one event), only that range: `position`
    /// goes back to just before `from` (never forward: a subscription that has not got there yet sends what comes
    /// before it first), the subscription's position before the replay is kept as `resume_position` (the furthest,
    /// should a range already be under way) and `through`'s number as `replay_through` (the later end, so neither
    /// range is cut short); the delivery of `through` then moves `position` on to `resume_position` in its own
    /// statement (`WebhookLeases.record`).
    public func replay(tenant: UUID, id: UUID, from: UUID, through: UUID? = nil, by context: AuditContext) async throws -> ReplayOutcome {
        try await EventLog(database: database).stamp(tenant: tenant)  // an event is replayed by its number
        let ranged = through != nil
        // `bounds` always gives one row, so the answer tells a missing event from a reversed range; the UPDATE (and its
        // audit entry) happens only when both events are the tenant's and in order.
        let rows = try await database.query(
            """
            WITH bounds AS (
                SELECT \(from)::uuid AS event_id,
                       (SELECT seq FROM events WHERE tenant_id = \(tenant) AND id = \(from)) AS event_sequence,
                       \(through)::uuid AS through_event_id,
                       (SELECT seq FROM events WHERE tenant_id = \(tenant) AND id = \(through)) AS through_event_sequence),
            subscription AS (
                UPDATE webhook_subscriptions s SET
                    position = CASE WHEN \(ranged) THEN least(s.position, b.event_sequence - 1) ELSE b.event_sequence - 1 END,
                    resume_position = CASE WHEN \(ranged) THEN greatest(s.resume_position, s.position) END,
                    replay_through = CASE WHEN \(ranged) THEN greatest(s.replay_through, b.through_event_sequence) END,
                    attempts = 0, next_attempt_at = now(), paused_at = NULL, updated = now()
                FROM bounds b
                WHERE s.tenant_id = \(tenant) AND s.id = \(id) AND b.event_sequence IS NOT NULL
                  AND (NOT \(ranged) OR b.through_event_sequence >= b.event_sequence)
                RETURNING s.*, b.event_id, b.event_sequence, b.through_event_id, b.through_event_sequence),
            audit AS (\(audit: .webhookReplayed, by: context, from: "subscription", tenant: "tenant_id", target: "id",
                          details: Self.replayAuditDetails))
            SELECT \(unescaped: WebhookSubscription.columns), b.event_sequence, b.through_event_sequence,
                   EXISTS (SELECT FROM webhook_subscriptions WHERE tenant_id = \(tenant) AND id = \(id))
            FROM bounds b LEFT JOIN subscription ON true
            """)
        guard let row = rows.first else { throw StoreError.unavailable("a replay's statement gave no row") }
        let columns = row.makeRandomAccess()
        let (first, last, exists) = (
            try columns[columns.count - 3].decode(Int64?.self), try columns[columns.count - 2].decode(Int64?.self),
            try columns[columns.count - 1].decode(Bool.self))
        guard exists else { return .noSuchSubscription }
        guard let first else { return .noSuchEvent(from) }
        if let through {
            guard let last else { return .noSuchEvent(through) }
            guard last >= first else { return .reversed(from: first, through: last) }
        }
        // NULL only if the subscription was deleted while this statement waited for its row.
        guard try columns[0].decode(UUID?.self) != nil else { return .noSuchSubscription }
        return .replayed(try WebhookSubscription(row))
    }

    /// A replay's audit details, from the `subscription` CTE's row: the range's ends (`through_…` only for a range).
    static let replayAuditDetails = """
        jsonb_strip_nulls(jsonb_build_object('event_id', event_id, 'event_sequence', event_sequence,
                                             'through_event_id', through_event_id, 'through_event_sequence', through_event_sequence))
        """
}
