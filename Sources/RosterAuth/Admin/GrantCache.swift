import Foundation
import Synchronization

/// Rights resolved from the database, kept for a few seconds so a burst of requests by one identity costs
/// one resolution: a grant, a role or a SCIM membership change reaches every replica within `lifetime`.
public final class GrantCache: Sendable {
    public struct Key: Hashable, Sendable {
        var identity: AdminPrincipal.Identity
        /// A session's access token: the session must still be live.
        var session: UUID? = nil
        var activeGroup: String?
    }

    private struct Entry {
        var outcome: RoleOutcome?
        var expires: ContinuousClock.Instant
    }

    public let lifetime: Duration
    private let entries = Mutex<[Key: Entry]>([:])
    private static let capacity = 10_000

    public init(lifetime: Duration) {
        self.lifetime = lifetime
    }

    /// The cached outcome, or the resolved one (cached); nil outcome means "no such live identity".
    func outcome(for key: Key, resolve: () async throws -> RoleOutcome?) async throws -> RoleOutcome? {
        let now = ContinuousClock.now
        if lifetime > .zero, let entry = entries.withLock({ $0[key] }), entry.expires > now { return entry.outcome }
        let outcome = try await resolve()
        guard lifetime > .zero else { return outcome }
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries = entries.filter { $0.value.expires > now } }
            if entries.count < Self.capacity { entries[key] = Entry(outcome: outcome, expires: now + lifetime) }
        }
        return outcome
    }

    /// Forgets everything: this process just changed a user, role, grant or session.
    public func invalidate() {
        entries.withLock { $0.removeAll() }
    }
}
