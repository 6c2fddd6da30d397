import Dispatch
import Synchronization

/// Token buckets per key (a credential), in this process's memory.
///
/// A bucket is kept as the instant it will be full again (GCRA's "theoretical arrival time"), in
/// integer nanoseconds: the same as `limit` tokens refilled at limit/window, in one Int64 per key and
/// without floating point. A bucket whose instant has passed is full, exactly like a new one, so a
/// periodic sweep evicts it: memory holds only the credentials that used quota within their window.
public final class RateLimiter: Sendable {
    /// Monotonic nanoseconds; tests pass a clock they move.
    public typealias Clock = @Sendable () -> Int64

    public static let uptime: Clock = { Int64(bitPattern: DispatchTime.now().uptimeNanoseconds) }

    private let clock: Clock
    /// Several locks, so concurrent requests of different credentials rarely wait for each other.
    private let shards: [Shard]
    private let sweepInterval: Int64

    public init(clock: @escaping Clock = RateLimiter.uptime, shards: Int = 16, sweepInterval: Duration = .seconds(10)) {
        precondition(shards >= 1, "a limiter needs at least one shard")
        self.clock = clock
        self.shards = (0..<shards).map { _ in Shard() }
        let (seconds, attoseconds) = sweepInterval.components
        self.sweepInterval = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// Takes one request from `key`'s bucket under `policy`: allowed while the bucket holds a token.
    /// A denied request takes nothing. A changed policy applies at once (the debt is capped at its capacity).
    public func consume(_ key: String, _ policy: RateLimitPolicy) -> RateLimitDecision {
        let now = clock()
        let shard = shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
        return shard.state.withLock { state in
            state.sweep(now: now, every: sweepInterval)
            let capacity = policy.interval * Int64(policy.limit)
            let full = min(max(state.buckets[key] ?? now, now), now + capacity)
            let next = full + policy.interval
            guard next - now <= capacity else {
                state.buckets[key] = full  // keeps a lowered policy's cap, so its recovery is on its own terms
                return Self.decision(policy, debt: full - now, retryAfter: next - now - capacity)
            }
            state.buckets[key] = next
            return Self.decision(policy, debt: next - now, retryAfter: nil)
        }
    }

    /// Buckets held now (not yet evicted), for tests.
    public var bucketCount: Int {
        shards.reduce(0) { count, shard in count + shard.state.withLock { $0.buckets.count } }
    }

    /// `debt`: nanoseconds until the bucket is full; `retryAfter`: nanoseconds until a token is back (denied only).
    private static func decision(_ policy: RateLimitPolicy, debt: Int64, retryAfter: Int64?) -> RateLimitDecision {
        let capacity = policy.interval * Int64(policy.limit)
        return RateLimitDecision(
            allowed: retryAfter == nil,
            remaining: Int((capacity - debt) / policy.interval),
            resetSeconds: Int(wholeSeconds(debt)),
            retryAfterSeconds: retryAfter.map { Int(max(1, wholeSeconds($0))) } ?? 0)
    }

    private static func wholeSeconds(_ nanoseconds: Int64) -> Int64 {
        (nanoseconds + 999_999_999) / 1_000_000_000
    }

    private final class Shard: Sendable {
        let state = Mutex(State())
    }

    private struct State {
        /// Key → the instant its bucket is full again.
        var buckets: [String: Int64] = [:]
        var lastSweep: Int64?

        mutating func sweep(now: Int64, every interval: Int64) {
            guard let last = lastSweep else {
                lastSweep = now
                return
            }
            guard now - last >= interval else { return }
            lastSweep = now
            buckets = buckets.filter { $0.value > now }
        }
    }
}
