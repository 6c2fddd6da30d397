import Foundation
import PostgresNIO
import RosterStore
import Synchronization

/// How the dispatcher takes work: due subscriptions, shared fairly across tenants.
///
/// A process runs at most `concurrency` workers, and at most `tenantLimit` of them for one tenant, so a
/// tenant whose receivers are slow or never answer holds only its own share. Free workers go to tenants
/// in turn: each tenant's next subscription is ranked by how many workers that tenant would then hold.
extension WebhookDispatcher {
    struct Claimed: Sendable {
        var tenant: UUID
        var id: UUID
        var url: String
        var types: [String]?
        var secrets: [WebhookSecret]
        var position: Int64
        var attempts: Int
        /// False once a statement of this worker handed the lease back or found it lost.
        var holdsLease = true
    }

    /// Takes the lease of up to `limit` subscriptions that have an event due, none of a tenant beyond
    /// `configuration.tenantLimit` workers (`busy`: this process's workers per tenant now).
    func claim(limit: Int, busy: [UUID: Int]) async throws -> [Claimed] {
        let cap = configuration.tenantLimit
        let tenants = Array(busy.keys), workers = tenants.map { busy[$0] ?? 0 }
        // Per tenant with events and subscriptions, below its cap: its oldest due subscriptions, read from
        // (tenant_id, next_attempt_at) only as far as its remaining share, so a tenant with thousands due costs
        // no more than one with a few. `position < last_seq` skips idle subscriptions without touching events;
        // the LATERAL ... LIMIT 1 probes events by (tenant_id, seq), which an EXISTS let the planner turn into
        // a scan of all the tenant's events. FOR UPDATE cannot sit beside a window function, so the rows are
        // locked (and their lease checked again, should another process have taken one meanwhile) a level up.
        let rows = try await database.query(
            """
            UPDATE webhook_subscriptions s SET lease_owner = \(owner), lease_until = now() + \(Self.interval(configuration.lease))::interval
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
                            LIMIT 1
                        ) pending
                        WHERE d.tenant_id = t.tenant_id AND d.enabled AND d.paused_at IS NULL AND d.next_attempt_at <= now()
                          AND (d.lease_until IS NULL OR d.lease_until < now()) AND d.position < t.last_seq
                        ORDER BY d.next_attempt_at, d.id
                        LIMIT \(cap) - t.workers
                    ) c
                ) ranked ON w.tenant_id = ranked.tenant_id AND w.id = ranked.id
                WHERE w.enabled AND w.paused_at IS NULL AND w.next_attempt_at <= now()
                  AND (w.lease_until IS NULL OR w.lease_until < now())
                -- The next worker goes to the tenant that would then hold the fewest; among equals, the longest due.
                ORDER BY ranked.slot, ranked.next_attempt_at, w.tenant_id
                LIMIT \(limit)
                FOR UPDATE OF w SKIP LOCKED
            ) due
            WHERE s.tenant_id = due.tenant_id AND s.id = due.id
            RETURNING s.tenant_id, s.id, s.url, s.event_types, s.position, s.attempts, \(unescaped: WebhookSecretColumns.signing("s"))
            """)
        return try rows.compactMap { row in
            let (tenant, id, url, types, position, attempts, secret, sealed, previous, previousSealed) = try row.decode(
                (UUID, UUID, String, [String]?, Int64, Int, String?, Data?, String?, Data?).self)
            do {
                let secrets = try WebhookSecretColumns.reveal(
                    current: (secret, sealed), previous: (previous, previousSealed), tenant: tenant, id: id, in: database.secrets)
                return Claimed(tenant: tenant, id: id, url: url, types: types, secrets: secrets, position: position, attempts: attempts)
            } catch let error as SecretsAtRestError {
                // One subscription whose secret does not open must not stop the others; its lease lapses and it is tried again.
                logger.error("Webhook dispatcher: a subscription's signing secret cannot be read", metadata: [
                    "subscription": "\(id)", "error": "\(error.description)"])
                return nil
            }
        }
    }

    /// Workers running in this process, per tenant.
    final class WorkerTally: Sendable {
        private let counts = Mutex<[UUID: Int]>([:])

        var byTenant: [UUID: Int] { counts.withLock { $0 } }

        func started(_ tenant: UUID) {
            counts.withLock { $0[tenant, default: 0] += 1 }
        }

        func finished(_ tenant: UUID) {
            // A tenant without workers leaves the tally, so it stays as small as the work under way.
            counts.withLock { $0[tenant] = ($0[tenant] ?? 1) > 1 ? $0[tenant]! - 1 : nil }
        }
    }
}
