import Foundation

/// Checks on values several admin operations take, each answering a 400 that says what is expected.
enum AdminInput {
    /// A display name for a token or key: not blank, at most 200 characters.
    static func validName(_ name: String, example: String) throws -> String {
        guard !name.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, name.count <= 200 else {
            throw AdminError.invalidRequest("'name' is required, at most 200 characters, e.g. \"\(example)\".")
        }
        // Control and format characters (U+0000, zero-width spaces) hide what a name says.
        guard name.unicodeScalars.allSatisfy({ !CharacterSet.controlCharacters.contains($0) }) else {
            throw AdminError.invalidRequest("'name' must not contain control or invisible formatting characters.")
        }
        return name
    }

    /// An optional expiry, which must lie in the future.
    static func validExpiry(_ date: Date?) throws -> Date? {
        guard let date else { return nil }
        guard date > Date() else {
            throw AdminError.invalidRequest("'expires_at' must be a future RFC 3339 date-time, e.g. \"2027-01-01T00:00:00Z\".")
        }
        return date
    }
}
