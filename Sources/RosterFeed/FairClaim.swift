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

    /// Workers running in this process: how many per tenant, and on which subscriptions.
    final class WorkerTally: Sendable {
        private struct State {
            var byTenant: [UUID: Int] = [:]
            var subscriptions: Set<UUID> = []
        }

        private let state = Mutex(State())

        var byTenant: [UUID: Int] { state.withLock { $0.byTenant } }
        var subscriptions: Set<UUID> { state.withLock { $0.subscriptions } }

        func started(_ subscription: Claimed) {
            state.withLock {
                $0.byTenant[subscription.tenant, default: 0] += 1
                $0.subscriptions.insert(subscription.id)
            }
        }

        func finished(_ subscription: Claimed) {
            state.withLock {
                // A tenant without workers leaves the tally, so it stays as small as the work under way.
                let tenant = subscription.tenant
                $0.byTenant[tenant] = ($0.byTenant[tenant] ?? 1) > 1 ? $0.byTenant[tenant]! - 1 : nil
                $0.subscriptions.remove(subscription.id)
            }
        }
    }
}
