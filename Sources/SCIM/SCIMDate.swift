public import Foundation

/// RFC 7643 §2.3.5: dateTime values are xsd:dateTime, written here as RFC 3339 UTC with milliseconds.
public enum SCIMDate {
    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    public static func parse(_ string: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle().parse(string) { return date }
        return try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(string)
    }
}
