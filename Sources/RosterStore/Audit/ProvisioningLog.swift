public import Foundation
import PostgresNIO

/// One SCIM request a tenant's client made, as its provisioning log keeps it: never a body, a token or a password.
public struct ProvisioningEntry: Sendable, Equatable {
    /// Assigned by the database; 0 before it is recorded.
    public var id: Int64
    public var tenantID: UUID
    public var occurred: Date
    public var tokenID: UUID
    public var method: String
    /// The request's path and query, secrets masked.
    public var path: String
    public var status: Int
    public var scimType: String?
    public var detail: String?
    public var userAgent: String?
    public var latencyMilliseconds: Int
    public var requestID: String?

    public init(
        id: Int64 = 0, tenantID: UUID, occurred: Date, tokenID: UUID, method: String, path: String, status: Int, scimType: String?,
        detail: String?, userAgent: String?, latencyMilliseconds: Int, requestID: String?
    ) {
        self.id = id
        self.tenantID = tenantID
        self.occurred = occurred
        self.tokenID = tokenID
        self.method = method
        self.path = path
        self.status = status
        self.scimType = scimType
        self.detail = detail
        self.userAgent = userAgent
        self.latencyMilliseconds = latencyMilliseconds
        self.requestID = requestID
    }
}

/// The provisioning log: recorded in batches, read newest first by tenant, pruned by age and by a per-tenant row cap.
public struct ProvisioningLog: Sendable {
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    public struct Query: Sendable, Equatable {
        public enum Outcome: String, Sendable { case failed, succeeded }
        public var tenant: UUID
        /// Entries older than this one (the last entry of the previous page).
        public var before: Int64?
        public var limit: Int
        public var outcome: Outcome?
        public var since: Date?

        public init(tenant: UUID, before: Int64? = nil, limit: Int = 100, outcome: Outcome? = nil, since: Date? = nil) {
            self.tenant = tenant
            self.before = before
            self.limit = limit
            self.outcome = outcome
            self.since = since
        }
    }

    /// Writes entries in one statement (a batch from the recorder); entries of a tenant deleted meanwhile are skipped.
    /// (An empty text is stored as NULL: arrays of optionals do not bind.)
    public func record(_ entries: [ProvisioningEntry]) async throws {
        guard !entries.isEmpty else { return }
        try await database.query(
            """
            INSERT INTO provisioning_log (tenant_id, occurred_at, token_id, method, path, status, scim_type, detail, user_agent, latency_ms, request_id)
            SELECT e.tenant_id, e.occurred_at, e.token_id, e.method, e.path, e.status, nullif(e.scim_type, ''), nullif(e.detail, ''),
                   nullif(e.user_agent, ''), e.latency_ms, nullif(e.request_id, '')
            FROM unnest(
                \(entries.map(\.tenantID))::uuid[], \(entries.map(\.occurred))::timestamptz[], \(entries.map(\.tokenID))::uuid[],
                \(entries.map(\.method))::text[], \(entries.map(\.path))::text[], \(entries.map { Int16(clamping: $0.status) })::smallint[],
                \(entries.map { $0.scimType ?? "" })::text[], \(entries.map { $0.detail ?? "" })::text[],
                \(entries.map { $0.userAgent ?? "" })::text[], \(entries.map { Int32(clamping: $0.latencyMilliseconds) })::integer[],
                \(entries.map { $0.requestID ?? "" })::text[]
            ) AS e(tenant_id, occurred_at, token_id, method, path, status, scim_type, detail, user_agent, latency_ms, request_id)
            WHERE EXISTS (SELECT 1 FROM tenants WHERE tenants.id = e.tenant_id)
            """)
    }

    /// A tenant's entries, newest first, and whether older ones follow.
    public func read(_ query: Query) async throws -> (entries: [ProvisioningEntry], more: Bool) {
        let failed: Bool? = query.outcome.map { $0 == .failed }
        let rows = try await database.query(
            """
            SELECT id, tenant_id, occurred_at, token_id, method, path, status, scim_type, detail, user_agent, latency_ms, request_id
            FROM provisioning_log
            WHERE tenant_id = \(query.tenant)
              AND (\(query.before)::bigint IS NULL OR id < \(query.before)::bigint)
              AND (\(query.since)::timestamptz IS NULL OR occurred_at >= \(query.since)::timestamptz)
              AND (\(failed)::boolean IS NULL OR (status >= 400) = \(failed)::boolean)
            ORDER BY id DESC LIMIT \(query.limit + 1)
            """)
        var entries: [ProvisioningEntry] = []
        for row in rows.prefix(query.limit) {
            let (id, tenant, occurred, token, method, path, status, scimType, detail, agent, latency, request) = try row.decode(
                (Int64, UUID, Date, UUID, String, String, Int16, String?, String?, String?, Int32, String?).self)
            entries.append(ProvisioningEntry(
                id: id, tenantID: tenant, occurred: occurred, tokenID: token, method: method, path: path, status: Int(status),
                scimType: scimType, detail: detail, userAgent: agent, latencyMilliseconds: Int(latency), requestID: request))
        }
        return (entries, rows.count > query.limit)
    }

    /// Deletes entries older than `age`, `batch` rows per statement, then each tenant's entries beyond its newest
    /// `keep`; returns how many went.
    public func prune(olderThan age: Duration, keep: Int, batch: Int = 10_000) async throws -> Int {
        var deleted = 0
        while true {
            let count = try await count(
                """
                WITH old AS (
                    SELECT tenant_id, id FROM provisioning_log
                    WHERE occurred_at < now() - make_interval(secs => \(Double(age.components.seconds)))
                    LIMIT \(batch)),
                gone AS (DELETE FROM provisioning_log p USING old WHERE p.tenant_id = old.tenant_id AND p.id = old.id RETURNING 1)
                SELECT count(*) FROM gone
                """)
            deleted += count
            if count < batch { break }
        }
        // A tenant over its cap loses its oldest entries: below its `keep`-th newest id (one walk of its index).
        deleted += try await count(
            """
            WITH boundary AS (
                SELECT t.id AS tenant_id,
                       (SELECT p.id FROM provisioning_log p WHERE p.tenant_id = t.id ORDER BY p.id DESC OFFSET \(keep - 1) LIMIT 1) AS id
                FROM tenants t),
            gone AS (DELETE FROM provisioning_log p USING boundary b WHERE p.tenant_id = b.tenant_id AND p.id < b.id RETURNING 1)
            SELECT count(*) FROM gone
            """)
        return deleted
    }

    private func count(_ query: PostgresQuery) async throws -> Int {
        try await database.query(query).first?.decode(Int.self) ?? 0
    }
}
