import Foundation
import PostgresNIO

/// A subscription's secrets as its row holds them: `secret` / `previous_secret` (text, plaintext) or
/// `secret_sealed` / `previous_secret_sealed` (sealed with the operator's key), one form each.
enum WebhookSecretColumns {
    /// The select list of the secrets that sign now, in `decode`'s order; `table` qualifies the columns (or is empty).
    static func signing(_ table: String = "") -> String {
        let t = table.isEmpty ? "" : table + "."
        return """
            \(t)secret, \(t)secret_sealed, CASE WHEN \(t)previous_until > now() THEN \(t)previous_secret END,
            CASE WHEN \(t)previous_until > now() THEN \(t)previous_secret_sealed END
            """
    }

    /// The column values for a new secret of subscription `id`.
    static func store(_ secret: WebhookSecret, tenant: UUID, id: UUID, in secrets: SecretsAtRest) throws -> (text: String?, sealed: Data?) {
        let (plaintext, sealed) = try secrets.store(Data(secret.text.utf8), for: .webhook(tenant: tenant, id: id))
        return (plaintext.map { String(decoding: $0, as: UTF8.self) }, sealed)
    }

    /// The current secret, then the previous one while it still signs.
    static func reveal(
        current: (String?, Data?), previous: (String?, Data?), tenant: UUID, id: UUID, in secrets: SecretsAtRest
    ) throws -> [WebhookSecret] {
        let purpose = SecretPurpose.webhook(tenant: tenant, id: id)
        var revealed: [WebhookSecret] = []
        for (index, (text, sealed)) in [current, previous].enumerated() {
            // The previous secret is optional; the current one always exists.
            if index == 1 && text == nil && sealed == nil { continue }
            let bytes = try secrets.reveal(plaintext: text.map { Data($0.utf8) }, sealed: sealed, for: purpose)
            guard let secret = WebhookSecret(String(decoding: bytes, as: UTF8.self)) else { throw SecretsAtRestError.malformed(purpose: purpose) }
            revealed.append(secret)
        }
        return revealed
    }
}
