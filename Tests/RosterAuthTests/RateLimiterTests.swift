import Synchronization
import Testing
@testable import RosterAuth

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let nanoseconds = Mutex<Int64>(1_000_000_000_000)

    func advance(seconds: Double) {
        nanoseconds.withLock { $0 += Int64(seconds * 1_000_000_000) }
    }

    var clock: RateLimiter.Clock { { self.nanoseconds.withLock { $0 } } }
}

@Suite("Rate limiter: token buckets per credential")
struct RateLimiterTests {
    let time = ManualClock()
    let policy = RateLimitPolicy(limit: 3, windowSeconds: 3)!

    @Test("a full bucket allows `limit` requests at once, counting down, then denies with a retry-after of at least 1 s")
    func burstThenDeny() {
        let limiter = RateLimiter(clock: time.clock)
        let remaining = (0..<3).map { _ in limiter.consume("k", policy) }
        #expect(remaining.map(\.allowed) == [true, true, true])
        #expect(remaining.map(\.remaining) == [2, 1, 0])
        #expect(remaining.map(\.retryAfterSeconds) == [0, 0, 0])
        #expect(remaining.last?.resetSeconds == 3)
        let denied = limiter.consume("k", policy)
        #expect(denied == RateLimitDecision(allowed: false, remaining: 0, resetSeconds: 3, retryAfterSeconds: 1))
    }

    @Test("tokens come back at limit/window: one after retry-after, the whole burst after the window")
    func refill() {
        let limiter = RateLimiter(clock: time.clock)
        for _ in 0..<3 { _ = limiter.consume("k", policy) }
        time.advance(seconds: 1)
        #expect(limiter.consume("k", policy).allowed)
        #expect(!limiter.consume("k", policy).allowed)
        time.advance(seconds: 3)
        #expect((0..<3).map { _ in limiter.consume("k", policy).allowed } == [true, true, true])
        #expect(!limiter.consume("k", policy).allowed)
    }

    @Test("a denied request takes nothing: hammering does not push recovery back")
    func deniedTakesNothing() {
        let limiter = RateLimiter(clock: time.clock)
        for _ in 0..<3 { _ = limiter.consume("k", policy) }
        for _ in 0..<50 { #expect(limiter.consume("k", policy).retryAfterSeconds == 1) }
        time.advance(seconds: 1)
        #expect(limiter.consume("k", policy).allowed)
    }

    @Test("retry-after rounds up to whole seconds and is never 0 when denied")
    func retryAfterRounding() {
        let limiter = RateLimiter(clock: time.clock)
        let slow = RateLimitPolicy(limit: 2, windowSeconds: 5)!  // a token every 2.5 s
        _ = limiter.consume("k", slow)
        _ = limiter.consume("k", slow)
        #expect(limiter.consume("k", slow).retryAfterSeconds == 3)
        time.advance(seconds: 2.4)
        #expect(limiter.consume("k", slow).retryAfterSeconds == 1)
        time.advance(seconds: 0.1)
        #expect(limiter.consume("k", slow).allowed)
    }

    @Test("each key has its own bucket")
    func separateKeys() {
        let limiter = RateLimiter(clock: time.clock)
        for _ in 0..<3 { _ = limiter.consume("token:a", policy) }
        #expect(!limiter.consume("token:a", policy).allowed)
        #expect(limiter.consume("token:b", policy).allowed)
        #expect(limiter.consume("key:a", policy).remaining == 2)
    }

    @Test("a lowered limit applies at once, and never leaves a debt beyond its own window")
    func policyChange() {
        let limiter = RateLimiter(clock: time.clock)
        let wide = RateLimitPolicy(limit: 100, windowSeconds: 100)!
        for _ in 0..<100 { _ = limiter.consume("k", wide) }
        let narrow = RateLimitPolicy(limit: 1, windowSeconds: 2)!
        let denied = limiter.consume("k", narrow)
        #expect(!denied.allowed)
        #expect(denied.retryAfterSeconds == 2)
        time.advance(seconds: 2)
        #expect(limiter.consume("k", narrow).allowed)
    }

    @Test("buckets that have refilled are evicted by the next sweep; active ones stay")
    func eviction() {
        let limiter = RateLimiter(clock: time.clock, shards: 1, sweepInterval: .seconds(10))
        for n in 0..<1000 { _ = limiter.consume("idle-\(n)", policy) }
        #expect(limiter.bucketCount == 1000)
        time.advance(seconds: 11)
        _ = limiter.consume("active", policy)
        #expect(limiter.bucketCount == 1)
        time.advance(seconds: 1)
        _ = limiter.consume("other", policy)
        #expect(limiter.bucketCount == 2, "no sweep before the interval")
    }

    @Test("concurrent requests on one key are allowed exactly `limit` times")
    func concurrent() async {
        let limiter = RateLimiter(clock: time.clock, shards: 4)
        let busy = RateLimitPolicy(limit: 500, windowSeconds: 3600)!
        let allowed = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask { (0..<200).reduce(0) { count, _ in count + (limiter.consume("shared", busy).allowed ? 1 : 0) } }
            }
            return await group.reduce(0, +)
        }
        #expect(allowed == 500)
    }

    @Test("policies parse from \"<requests>/<seconds>s\" within 1…1 000 000 requests and 1…86 400 s")
    func parsing() {
        #expect(RateLimitPolicy("3000/60s") == RateLimitPolicy(limit: 3000, windowSeconds: 60))
        #expect(RateLimitPolicy("1/86400s")?.description == "1/86400s")
        for bad in ["", "off", "0/60s", "10/0s", "10/86401s", "10/60", "/60s", "10/s", "ten/60s", "10/60m", "-1/60s", "1000001/1s"] {
            #expect(RateLimitPolicy(bad) == nil, "\(bad)")
        }
    }
}
