public import Foundation
public import Logging
package import PostgresNIO
public import RosterAuth
import Synchronization

/// SCIM tokens this process has seen valid: token hash → (tenant, token id, expiry), so a read costs one round trip.
///
/// Why a cache *and* a check in every read statement, not a cache alone: a cache that NOTIFY evicts is only as
/// fresh as the notification, and a NOTIFY may arrive after a request that started after the revocation committed
/// (or never, while the LISTEN connection is down). So the cache is never trusted on its own: a request it
/// authenticates runs with `CredentialCheck.current` set, and the statement that reads the data re-checks the
/// token by primary key (`scim_tokens (tenant_id, id)`, revoked, expiry) in the same snapshot — a revoked token is
/// refused from the moment its revocation commits, on every replica, before any NOTIFY. NOTIFY (`channel`, the token
/// id as payload, never its hash) only keeps the cache tidy and the answers prompt; a LISTEN (re)connect clears
/// the whole cache, since notifications may have been missed while it was down.
///
/// Only reads use it (GET, `.search`): writes look the token up in the database first, as before.
/// last_used of cached tokens is written in the background (`drainTouches`, one statement for all of them),
/// at most once a minute per token and process, never on a request's path.
/// Only tokens that were valid in the database are inserted, so a flood of random tokens costs one lookup each and
/// never grows it; misses are not cached at all. It holds at most `capacity` entries (a full cache drops an
/// arbitrary one); an entry is dropped when its expiry passes, and re-validated from the database after `lifetime`.
public final class ScimTokenCache: Sendable {
    /// The NOTIFY channel a revocation writes to, with the token's id as payload.
    public static let channel = "roster_scim_token_revoked"

    public struct Entry: Sendable {
        public var principal: ScimPrincipal
        public var expires: Date?
        /// When this process last wrote (or asked to write) the token's last_used.
        var touched: ContinuousClock.Instant
        var filled: ContinuousClock.Instant
    }

    private struct State {
        var byHash: [Data: Entry] = [:]
        var hashByID: [UUID: Data] = [:]
        var generation = 0
        /// Tokens used since their last_used was last written by this process, for `drainTouches`.
        var touches: Set<ScimPrincipal> = []
    }

    private let state = Mutex(State())
    public let capacity: Int
    public let lifetime: Duration

    public init(capacity: Int = 10_000, lifetime: Duration = .seconds(300)) {
        self.capacity = capacity
        self.lifetime = lifetime
    }

    /// What a hit gives: the principal, and whether last_used became due (queued for `drainTouches`).
    public struct Hit: Sendable {
        public var principal: ScimPrincipal
        public var touchDue: Bool
    }

    /// The cached principal for a token hash, unless absent, expired or older than `lifetime` (then dropped).
    public func lookup(_ hash: Data, now: Date = Date()) -> Hit? {
        let clock = ContinuousClock.now
        return state.withLock { state in
            guard var entry = state.byHash[hash] else { return nil }
            if let expires = entry.expires, expires <= now {
                Self.remove(hash, entry.principal.tokenID, from: &state)
                return nil
            }
            if clock - entry.filled > lifetime {
                Self.remove(hash, entry.principal.tokenID, from: &state)
                return nil
            }
            let due = clock - entry.touched >= .seconds(ScimTokenRepository.lastUsedResolution)
            if due {
                entry.touched = clock
                state.byHash[hash] = entry
                state.touches.insert(entry.principal)
            }
            return Hit(principal: entry.principal, touchDue: due)
        }
    }

    /// Remembers a token the database has just found valid. `generation` is `generation()` read before the lookup:
    /// when the cache was cleared meanwhile (a LISTEN reconnect), the answer may predate a missed revocation and is dropped.
    public func insert(_ hash: Data, principal: ScimPrincipal, expires: Date?, generation: Int) {
        let clock = ContinuousClock.now
        state.withLock { state in
            guard state.generation == generation else { return }
            if state.byHash[hash] == nil, state.byHash.count >= capacity, let victim = state.byHash.first {
                Self.remove(victim.key, victim.value.principal.tokenID, from: &state)
            }
            state.byHash[hash] = Entry(principal: principal, expires: expires, touched: clock, filled: clock)
            state.hashByID[principal.tokenID] = hash
        }
    }

    public func generation() -> Int { state.withLock { $0.generation } }

    /// The tokens whose last_used is due, once each (at most once a minute per token and process).
    public func drainTouches() -> [ScimPrincipal] {
        state.withLock { state in
            defer { state.touches.removeAll() }
            return Array(state.touches)
        }
    }

    /// Drops one token (a revocation notified, or a read statement found it no longer live).
    public func evict(tokenID: UUID) {
        state.withLock { state in
            state.generation &+= 1
            guard let hash = state.hashByID[tokenID] else { return }
            Self.remove(hash, tokenID, from: &state)
        }
    }

    /// Drops everything (the LISTEN connection was (re)established: notifications may have been missed).
    public func clear() {
        state.withLock { state in
            state.byHash.removeAll()
            state.hashByID.removeAll()
            state.generation &+= 1
        }
    }

    public var count: Int { state.withLock { $0.byHash.count } }

    private static func remove(_ hash: Data, _ id: UUID, from state: inout State) {
        state.byHash[hash] = nil
        state.hashByID[id] = nil
    }

    /// Evicts revoked tokens as their revocations commit, on every replica; listens again when the connection
    /// drops (clearing the cache each time it (re)subscribes). Runs until cancelled.
    /// The LISTEN has its own connection, outside the pool: it never takes a request's connection or a tenant's share.
    public func listen(_ endpoint: ListenEndpoint, retry: Duration = .seconds(1), logger: Logger) async {
        while !Task.isCancelled {
            do {
                // Its own connection, closed on cancellation: the notification sequence does not end when the task is
                // cancelled, or every stopped application would leave its LISTEN connection open.
                try await PostgresConnection.withOwnConnection(try await endpoint.configuration(), logger: logger) { connection in
                    let notifications = try await connection.listen(Self.channel)
                    // Subscribed: anything revoked from now on is notified; what was cached before may have missed one.
                    self.clear()
                    for try await notification in notifications {
                        if let id = UUID(uuidString: notification.payload) { self.evict(tokenID: id) } else { self.clear() }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning(
                    "SCIM token cache: LISTEN failed; cached tokens are still re-checked by every read statement",
                    metadata: ["error": "\(String(reflecting: type(of: error)))"])
            }
            clear()
            try? await Task.sleep(for: retry)
        }
    }
}

/// The credential a request was authenticated with from `ScimTokenCache`, for the read statements to re-check.
public final class LiveCredential: Sendable {
    public let principal: ScimPrincipal
    private let confirmedFlag = Atomic<Bool>(false)

    public init(_ principal: ScimPrincipal) { self.principal = principal }

    /// Whether a statement of this request has found the token live (so the request needs no separate check).
    public var confirmed: Bool { confirmedFlag.load(ordering: .acquiring) }
    func confirm() { confirmedFlag.store(true, ordering: .releasing) }

    /// A statement's verdict on the token: live confirms the request, not live refuses it (401).
    func verify(_ live: Bool) throws {
        guard live else { throw CredentialNotLive() }
        confirm()
    }
}

/// A read statement found the request's (cached) token revoked, expired or gone: the answer is 401, never 404.
public struct CredentialNotLive: Error, Sendable {
    public init() {}
}

public enum CredentialCheck {
    /// Set by the SCIM auth middleware around a request it authenticated from the cache.
    @TaskLocal public static var current: LiveCredential?

    /// The token check, as a boolean SQL expression on the tenant and token-id parameters given
    /// (`token` may be NULL: no check asked, always true).
    static func live(tenant: String, token: String) -> String {
        """
        (\(token)::uuid IS NULL OR EXISTS (SELECT 1 FROM scim_tokens WHERE tenant_id = \(tenant) AND id = \(token)::uuid \
        AND revoked IS NULL AND (expires IS NULL OR expires > now())))
        """
    }

    /// `sql`'s rows, each followed by two columns: `roster_present` (NULL on the one row that stands for "no rows")
    /// and `roster_live`. When the token is not live, `sql` is not run and the only row says so.
    /// The subquery keeps its ORDER BY (it is the inner side of a nested loop over one outer row).
    static func wrap(_ sql: String, tenant: String, token: String) -> String {
        """
        SELECT roster_read.*, roster_check.live AS roster_live FROM (SELECT \(live(tenant: tenant, token: token)) AS live) roster_check
        LEFT JOIN LATERAL (SELECT roster_inner.*, true AS roster_present FROM (\(sql)) roster_inner WHERE roster_check.live) roster_read ON true
        """
    }

    /// Reads the two trailing columns `wrap` adds: throws `CredentialNotLive` when the token was not live, and
    /// returns the rows that are real rows of the wrapped statement.
    static func rows(_ rows: [PostgresRow], credential: LiveCredential) throws -> [PostgresRow] {
        guard let first = rows.first else { return rows }
        let (present, live) = try first.trailingCheck()
        try credential.verify(live)
        return present ? rows : []
    }
}

extension PostgresRow {
    /// The last two columns: (`roster_present` is not NULL, `roster_live`).
    func trailingCheck() throws -> (present: Bool, live: Bool) {
        let columns = makeRandomAccess()
        let count = columns.count
        return (try columns[count - 2].decode(Bool?.self) != nil, try columns[count - 1].decode(Bool.self))
    }
}

extension RosterDatabase {
    /// `query` for a SCIM read: when the request was authenticated from the token cache, the statement also
    /// re-checks the token (`CredentialCheck.wrap`), in one round trip; otherwise it runs as given.
    package func checkedQuery(_ query: PostgresQuery) async throws -> [PostgresRow] {
        guard let (wrapped, credential) = CredentialCheck.checked(query) else { return try await self.query(query) }
        return try CredentialCheck.rows(try await self.query(wrapped), credential: credential)
    }

    /// `checkedQuery` on a connection already leased.
    func checkedQuery(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> [PostgresRow] {
        guard let (wrapped, credential) = CredentialCheck.checked(query) else {
            return try await connection.query(query, logger: logger).collect()
        }
        return try CredentialCheck.rows(try await connection.query(wrapped, logger: logger).collect(), credential: credential)
    }
}

extension CredentialCheck {
    /// `query` wrapped with the token check of the task's credential (binds appended), or nil when there is none.
    static func checked(_ query: PostgresQuery) -> (PostgresQuery, LiveCredential)? {
        guard let credential = current else { return nil }
        var binds = query.binds
        let tenant = "$\(binds.count + 1)", token = "$\(binds.count + 2)"
        binds.append(credential.principal.tenantID)
        binds.append(credential.principal.tokenID)
        return (PostgresQuery(unsafeSQL: wrap(query.sql, tenant: tenant, token: token), binds: binds), credential)
    }
}

/// Where a LISTEN connects: one connection outside the pool, named `applicationName` in `pg_stat_activity`, to the
/// server `database` takes connections from at the moment it connects (the primary, after a failover).
public struct ListenEndpoint: Sendable, CustomStringConvertible {
    let url: DatabaseURL
    let database: RosterDatabase
    let applicationName: String
    /// Never the URL: it holds the database password.
    public var description: String { "ListenEndpoint" }

    public init(url: DatabaseURL, database: RosterDatabase, applicationName: String) {
        self.url = url
        self.database = database
        self.applicationName = applicationName
    }

    func configuration() async throws -> PostgresConnection.Configuration {
        try await database.sessionConfiguration(url, applicationName: applicationName)
    }
}
