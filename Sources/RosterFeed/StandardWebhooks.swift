import Crypto
public import Foundation
public import RosterStore

/// Signs webhook requests as the Standard Webhooks specification says, so any of its libraries
/// verifies them: `webhook-signature` is `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per
/// secret, separated by spaces (during a secret rotation, the old and the new).
public enum WebhookSigner {
    public static func signature(id: String, timestamp: Int, body: some DataProtocol, secret: WebhookSecret) -> String {
        var message = Data("\(id).\(timestamp).".utf8)
        message.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: secret.key)
        return "v1," + Data(mac).base64EncodedString()
    }

    /// The three headers of one delivery.
    public static func headers(id: String, timestamp: Int, body: some DataProtocol, secrets: [WebhookSecret]) -> [(String, String)] {
        [
            ("webhook-id", id),
            ("webhook-timestamp", String(timestamp)),
            ("webhook-signature", secrets.map { signature(id: id, timestamp: timestamp, body: body, secret: $0) }.joined(separator: " ")),
        ]
    }
}

/// When to try a failed delivery again: the delays after each failed attempt, with jitter.
public struct RetrySchedule: Sendable, Equatable {
    /// Immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts over about 28 hours.
    public static let standard = RetrySchedule(delays: [0, 5, 300, 1800, 7200, 18000, 36000, 36000].map { .seconds($0) })

    /// `delays[0]` is before the first attempt; `delays[n]` after the n-th failure.
    public let delays: [Duration]
    /// Each delay is moved by up to this fraction of itself, either way, so retries spread out.
    public let jitter: Double

    public init(delays: [Duration], jitter: Double = 0.1) {
        self.delays = delays
        self.jitter = jitter
    }

    /// `0,5,300,…` in seconds (ROSTER_WEBHOOK_RETRY_SCHEDULE).
    public init?(seconds text: String) {
        let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.allSatisfy({ $0 != nil }) else { return nil }
        self.init(seconds: parts.map { $0! })
    }

    /// Delays in seconds: at least one, none negative (the runtime settings' `webhook_retry_schedule`).
    public init?(seconds: [Double]) {
        guard !seconds.isEmpty, seconds.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= Self.longestDelay }) else { return nil }
        self.init(delays: seconds.map { .milliseconds(Int64($0 * 1000)) })
    }

    /// Longer than any sensible retry (a week), and far from overflowing a Duration in milliseconds.
    public static let longestDelay: Double = 7 * 86_400

    /// The delays in seconds, as configured.
    public var seconds: [Double] {
        delays.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 }
    }

    public var attempts: Int { delays.count }

    /// The wait before attempt `failures + 1` after `failures` failed attempts; nil when the schedule is spent.
    public func delay(afterFailures failures: Int, random: Double = Double.random(in: -1...1)) -> Duration? {
        guard failures < delays.count else { return nil }
        let base = delays[failures]
        return base + base * (jitter * random)
    }
}
