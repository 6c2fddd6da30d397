import Logging
import RosterAuth
import ServiceLifecycle

/// Re-reads the rate-limit overrides every `ROSTER_RATE_LIMIT_REFRESH_MS` (2 s), so every process
/// applies a change made through any of them within that time; a failed read keeps the last overrides.
struct RateLimitRefresher: Service, CustomStringConvertible {
    let rateLimits: RateLimits
    let logger: Logger

    var description: String { "RateLimitRefresher" }

    func run() async throws {
        var failing = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await rateLimits.reload()
                if failing { logger.notice("Rate limits: overrides read again") }
                failing = false
            } catch {
                // One line per outage, not one per poll.
                if !failing {
                    logger.warning("Rate limits: could not read overrides; keeping the last ones", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                }
                failing = true
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: rateLimits.refreshInterval) }
        }
    }
}
