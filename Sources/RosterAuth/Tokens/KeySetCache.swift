import Logging

/// A key set held in memory and loaded on demand (from the database or an issuer's JWKS).
///
/// Loads a token can trigger are rate-limited: an unknown `kid` reloads at most once per
/// `minimumInterval`, and a failed load is not retried within it either, so a flood of tokens with
/// made-up key ids costs one load, not one each. Concurrent callers share a load under way.
actor KeySetCache<Keys: Sendable> {
    private let load: @Sendable () async throws -> Keys
    private let minimumInterval: Duration
    private let logger: Logger
    private let clock = ContinuousClock()

    private var keys: Keys?
    private var loadedAt: ContinuousClock.Instant?
    private var lastUnknownKeyReload: ContinuousClock.Instant?
    private var lastFailure: (error: any Error, at: ContinuousClock.Instant)?
    private var loading: Task<Keys, any Error>?

    init(minimumInterval: Duration, logger: Logger, load: @escaping @Sendable () async throws -> Keys) {
        self.minimumInterval = minimumInterval
        self.logger = logger
        self.load = load
    }

    /// The keys in memory, loaded first when there are none (a failed load is rethrown, not retried, within the interval).
    /// With `maximumAge`, keys older than that are reloaded, and kept if the reload fails.
    func current(maximumAge: Duration? = nil) async throws -> Keys {
        guard let keys, let loadedAt else {
            if let loading { return try await loading.value }
            if let lastFailure, !elapsed(since: lastFailure.at) { throw lastFailure.error }
            return try await reload()
        }
        guard let maximumAge, clock.now - loadedAt > maximumAge, lastFailure.map({ elapsed(since: $0.at) }) ?? true else { return keys }
        do {
            return try await reload()
        } catch {
            logger.warning("Refreshing signing keys failed; keeping the ones in memory", metadata: ["error": "\(error)"])
            return keys
        }
    }

    /// Reloads because a token named a key not in memory; nil when the last such reload was too recent.
    func reloadForUnknownKey() async throws -> Keys? {
        if let loading { return try await loading.value }
        if let lastUnknownKeyReload, !elapsed(since: lastUnknownKeyReload) { return nil }
        lastUnknownKeyReload = clock.now
        return try await reload()
    }

    /// Reloads now (joining a load under way), e.g. after this process rotated the keys itself.
    func reload() async throws -> Keys {
        if let loading { return try await loading.value }
        let task = Task { try await load() }
        loading = task
        defer { loading = nil }
        do {
            let loaded = try await task.value
            keys = loaded
            loadedAt = clock.now
            lastFailure = nil
            return loaded
        } catch {
            lastFailure = (error, clock.now)
            throw error
        }
    }

    private func elapsed(since instant: ContinuousClock.Instant) -> Bool {
        clock.now - instant >= minimumInterval
    }
}
