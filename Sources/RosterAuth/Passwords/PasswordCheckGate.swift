import Synchronization

/// A process-wide cap on password checks running at once: each costs a core for a quarter of a second, and
/// anyone may ask for one, so past the cap a sign-in is refused at once rather than queued behind the others.
public final class PasswordCheckGate: Sendable {
    public let limit: Int
    private let running = Mutex(0)

    public init(limit: Int) {
        precondition(limit > 0, "the password check cap must be positive")
        self.limit = limit
    }

    /// Runs `body` in a slot; nil, without running it, when every slot is taken.
    public func withSlot<T: Sendable>(_ body: () async throws -> T) async throws -> T? {
        let entered = running.withLock { running in
            guard running < limit else { return false }
            running += 1
            return true
        }
        guard entered else { return nil }
        defer { running.withLock { $0 -= 1 } }
        return try await body()
    }

    /// Checks running now.
    public var current: Int { running.withLock { $0 } }
}
