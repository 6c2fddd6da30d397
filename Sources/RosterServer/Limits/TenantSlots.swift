import Foundation
import Synchronization

/// Bounds how many requests of one tenant run at once in this process, so one tenant's slow or
/// numerous requests hold at most their share of the connection pool and the others' go on.
/// Requests over the bound wait in arrival order, each for at most `maxWait`.
final class TenantSlots: Sendable {
    let perTenant: Int
    let maxWait: Duration

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var running: [UUID: Int] = [:]
        var waiting: [UUID: [Waiter]] = [:]
        var nextID: UInt64 = 0

        /// Takes a slot when the tenant has one free and nobody of it queued earlier.
        mutating func take(_ tenant: UUID, limit: Int) -> Bool {
            let count = running[tenant] ?? 0
            guard count < limit, waiting[tenant]?.isEmpty ?? true else { return false }
            running[tenant] = count + 1
            return true
        }
    }

    private let state = Mutex(State())

    init(perTenant: Int, maxWait: Duration) {
        self.perTenant = max(1, perTenant)
        self.maxWait = maxWait
    }

    /// The tenant's request is over its share and waited `maxWait` for a slot.
    struct Full: Error {
        let tenant: UUID
    }

    /// Runs `body` in one of the tenant's slots.
    func run<Result: Sendable>(tenant: UUID, _ body: () async throws -> Result) async throws -> Result {
        try await acquire(tenant)
        defer { release(tenant) }
        return try await body()
    }

    /// Requests of `tenant` running now (for tests and diagnostics).
    func running(_ tenant: UUID) -> Int { state.withLock { $0.running[tenant] ?? 0 } }

    private func acquire(_ tenant: UUID) async throws {
        if state.withLock({ $0.take(tenant, limit: perTenant) }) { return }
        // Granted (true) by a release, or given up (false) at the deadline or on cancellation.
        let granted = await withTaskGroup(of: Bool?.self) { group in
            let id = state.withLock { state in
                state.nextID += 1
                return state.nextID
            }
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        // Checked again under the lock that queues it, so a release in between is not missed.
                        let now = self.state.withLock { state in
                            if state.take(tenant, limit: self.perTenant) { return true }
                            state.waiting[tenant, default: []].append(Waiter(id: id, continuation: continuation))
                            return false
                        }
                        if now { continuation.resume(returning: true) }
                    }
                } onCancel: {
                    self.giveUp(tenant, id)
                }
            }
            group.addTask {
                try? await Task.sleep(for: self.maxWait)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            if let first { return first }
            // The deadline passed: withdraw, unless a release granted the slot meanwhile.
            giveUp(tenant, id)
            return (await group.next() ?? nil) ?? false
        }
        guard granted else { throw Full(tenant: tenant) }
    }

    /// Withdraws a waiter (resuming it with false); a no-op when a release already granted it a slot.
    private func giveUp(_ tenant: UUID, _ id: UInt64) {
        let waiter: Waiter? = state.withLock { state in
            guard let index = state.waiting[tenant]?.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiting[tenant]!.remove(at: index)
        }
        waiter?.continuation.resume(returning: false)
    }

    /// Hands the slot to the tenant's next waiter, or frees it.
    private func release(_ tenant: UUID) {
        let next: Waiter? = state.withLock { state in
            if var queue = state.waiting[tenant], !queue.isEmpty {
                let first = queue.removeFirst()
                state.waiting[tenant] = queue.isEmpty ? nil : queue
                return first
            }
            let running = (state.running[tenant] ?? 1) - 1
            state.running[tenant] = running > 0 ? running : nil
            return nil
        }
        next?.continuation.resume(returning: true)
    }
}
