import Foundation
import RosterStore
import Synchronization

/// How the dispatcher takes work: due subscriptions, shared fairly across tenants.
///
/// A process runs at most `concurrency` workers, and at most `tenantLimit` of them for one tenant, so a
/// tenant whose receivers are slow or never answer holds only its own share. Free workers go to tenants
/// in turn: each tenant's next subscription is ranked by how many workers that tenant would then hold.
extension WebhookDispatcher {
    /// A subscription this process works on.
    typealias Claimed = LeasedSubscription

    /// Whether this process holds its liveness lock now (`WebhookLeases.holdLiveness`).
    final class Liveness: Sendable {
        private let state = Atomic<Bool>(false)

        var held: Bool {
            get { state.load(ordering: .acquiring) }
            set { state.store(newValue, ordering: .releasing) }
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
