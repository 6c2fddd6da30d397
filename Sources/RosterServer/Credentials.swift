import HTTPTypes
import Hummingbird

/// Reads the credential a request presents, without ever logging or echoing it.
enum PresentedCredential {
    /// `Authorization: Bearer <credential>`.
    static func bearer(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let value = parts[1].trimmingCharacters(in: .whitespaces)
        return value.isEmpty ? nil : value
    }

    /// `X-Admin-API-Key: <key>`, else the bearer credential.
    static func adminKey(_ request: Request) -> String? {
        if let key = request.headers[.adminAPIKey]?.trimmingCharacters(in: .whitespaces), !key.isEmpty { return key }
        return bearer(request)
    }
}

extension HTTPField.Name {
    static let adminAPIKey = HTTPField.Name("X-Admin-API-Key")!
    /// Names the SCIM group whose roles an admin request acts with (its id or displayName).
    static let activeGroup = HTTPField.Name("X-Roster-Active-Group")!
}
