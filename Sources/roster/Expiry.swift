import ArgumentParser
import Foundation

/// `--expires`: an RFC 3339 date-time, a date (its midnight UTC), or a duration from now such as 90d, 12h, 30m or 2w.
enum Expiry {
    static let help = "an RFC 3339 date-time (2027-01-31T00:00:00Z), a date (2027-01-31, midnight UTC) or a duration from now (90d, 12h, 30m, 2w)"

    static func parse(_ text: String, now: Date = Date()) throws -> Date {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let date: Date
        if let duration = trimmed.wholeMatch(of: /([0-9]{1,6})([mhdw])/), let count = Double(duration.output.1), count > 0 {
            let unit: Double =
                switch duration.output.2 {
                case "m": 60
                case "h": 3600
                case "d": 86_400
                default: 7 * 86_400
                }
            date = now.addingTimeInterval(count * unit)
        } else if let parsed = rfc3339(trimmed) {
            date = parsed
        } else {
            throw ValidationError("--expires takes \(help); '\(text)' is none of those.")
        }
        guard date > now else { throw ValidationError("--expires must lie in the future; '\(text)' does not.") }
        return date
    }

    /// RFC 3339 §5.6 `date-time` (with or without fractional seconds; `t` and `z` may be lowercase), or a `full-date`.
    static func rfc3339(_ text: String) -> Date? {
        let text = text.uppercased()
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        if text.wholeMatch(of: /[0-9]{4}-[0-9]{2}-[0-9]{2}/) != nil {
            formatter.formatOptions = [.withFullDate, .withDashSeparatorInDate]
            return formatter.date(from: text)
        }
        guard text.wholeMatch(of: /[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})/) != nil else {
            return nil
        }
        formatter.formatOptions = text.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
