public import Foundation

extension Duration {
    /// The duration in seconds, for `Date` arithmetic and SQL intervals.
    public var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
