import HTTPTypes
import Hummingbird

/// Reads the credential a request presents, without ever logging or echoing it.
enum PresentedCredential {
    /// `Authorization: Bearer <credential>`.
    static func bearer(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let value = trimmedSpace(parts[1])
        return value.isEmpty ? nil : String(value)
    }

    /// `X-Admin-API-Key: <key>`, else the bearer credential.
    static func adminKey(_ request: Request) -> String? {
        if let key = request.headers[.adminAPIKey].map({ trimmedSpace($0[...]) }), !key.isEmpty { return String(key) }
        return bearer(request)
    }

    /// Without the spaces and tabs around it (HTTP's optional whitespace). Foundation's `trimmingCharacters` bridges
    /// through `NSString` on Linux: 2 % of a GET by id's CPU in `perf`, on every request.
    static func trimmedSpace(_ text: Substring) -> Substring {
        let isSpace = { (character: Character) in character == " " || character == "\t" }
        guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) }) else { return "" }
        return text[first...last]
    }
}

extension HTTPField.Name {
    static let adminAPIKey = HTTPField.Name("X-Admin-API-Key")!
    /// Names the SCIM group whose roles an admin request acts with (its id or displayName).
    static let activeGroup = HTTPField.Name("X-Roster-Active-Group")!
}
