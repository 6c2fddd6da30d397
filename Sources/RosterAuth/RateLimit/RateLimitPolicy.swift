/// A rate limit: at most `limit` requests in any `windowSeconds`, all of them at once if need be
/// (burst = limit), refilled evenly at limit/window.
public struct RateLimitPolicy: Sendable, Hashable, CustomStringConvertible {
    /// Requests per window: at least 1; a million keeps headers and the database's integers sane.
    public static let limits = 1...1_000_000
    /// A second to a day.
    public static let windows = 1...86_400

    public let limit: Int
    public let windowSeconds: Int
    /// Nanoseconds per request at the sustained rate (the time one token takes to come back).
    let interval: Int64

    public init?(limit: Int, windowSeconds: Int) {
        guard Self.limits.contains(limit), Self.windows.contains(windowSeconds) else { return nil }
        self.limit = limit
        self.windowSeconds = windowSeconds
        interval = max(1, Int64(windowSeconds) * 1_000_000_000 / Int64(limit))
    }

    /// Parses `"<requests>/<seconds>s"`, e.g. `3000/60s`; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].hasSuffix("s"), let limit = Int(parts[0]), let window = Int(parts[1].dropLast()) else {
            return nil
        }
        self.init(limit: limit, windowSeconds: window)
    }

    public var description: String { "\(limit)/\(windowSeconds)s" }
}

/// The limiter's answer for one request.
public struct RateLimitDecision: Sendable, Equatable {
    public var allowed: Bool
    /// Requests left now (after this one, when it was allowed).
    public var remaining: Int
    /// Whole seconds, rounded up, until the bucket is full again: the whole quota back.
    public var resetSeconds: Int
    /// 0 when allowed; otherwise whole seconds, at least 1, until the next request will be.
    public var retryAfterSeconds: Int

    public init(allowed: Bool, remaining: Int, resetSeconds: Int, retryAfterSeconds: Int) {
        self.allowed = allowed
        self.remaining = remaining
        self.resetSeconds = resetSeconds
        self.retryAfterSeconds = retryAfterSeconds
    }
}
