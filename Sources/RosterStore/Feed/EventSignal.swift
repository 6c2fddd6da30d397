import Synchronization

/// Tells this process's event stamper that a transaction which may have written events has committed,
/// without a round trip: writers no longer NOTIFY (0017_events_without_tenant_lock.sql). Other processes
/// learn of the events from the stamp's NOTIFY, or at their next poll.
public final class EventSignal: Sendable {
    private let listeners = Mutex<[Int: AsyncStream<Void>.Continuation]>([:])
    private let next = Atomic<Int>(0)

    public init() {}

    /// Called after a commit. Cheap: a listener that has not caught up yet sees one wake for many commits.
    public func written() {
        listeners.withLock { listeners in
            for listener in listeners.values { listener.yield() }
        }
    }

    /// A stream that yields after commits (coalesced) until the caller stops iterating it.
    public func commits() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let key = next.add(1, ordering: .relaxed).newValue
        continuation.onTermination = { [weak self] _ in
            _ = self?.listeners.withLock { $0.removeValue(forKey: key) }
        }
        listeners.withLock { $0[key] = continuation }
        return stream
    }
}
