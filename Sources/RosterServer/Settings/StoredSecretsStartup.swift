public import Logging
import RosterStore

/// What every start does before it listens, after migrations: with a key, seals the secrets still stored as they
/// are and checks that every sealed one opens; without one (the operator's explicit opt-out), checks that none is
/// sealed. A wrong or missing key stops the start here, naming the row and key id, never a key.
public func prepareStoredSecrets(_ configuration: RosterConfiguration, logger: Logger) async throws {
    guard let url = configuration.databaseURL else {
        throw RosterConfiguration.Invalid(description: "No database configured: set ROSTER_DATABASE_URL or pass --database-url.")
    }
    switch configuration.secrets {
    case .unconfigured:
        throw RosterConfiguration.Invalid(description: SecretsAtRest.keyRequired)
    case .plaintext:
        let found = try await withDatabase(url: url, logger: logger) { try await StoredSecrets(database: $0).census() }
        if !found.sealedByKeyID.isEmpty {
            let ids = found.sealedByKeyID.keys.sorted().map { "'\($0)'" }.joined(separator: ", ")
            throw RosterConfiguration.Invalid(description: """
                \(found.sealedByKeyID.values.reduce(0, +)) secret(s) in the database are encrypted (key id \(ids)), which \
                ROSTER_ALLOW_PLAINTEXT_SECRETS cannot read: set ROSTER_SECRET_KEY to the key(s) that sealed them.
                """)
        }
        logger.warning(
            "ROSTER_ALLOW_PLAINTEXT_SECRETS=true: webhook secrets and token signing keys are stored unencrypted; a copy of the database can sign admin tokens and webhooks")
    case .encrypted(let keyring):
        let report = try await withDatabase(url: url, logger: logger, secrets: configuration.secrets) {
            try await StoredSecrets(database: $0).sealPlaintext(with: keyring)
        }
        if report.sealedFromPlaintext > 0 {
            logger.notice(
                "Encrypted the secrets stored in plaintext",
                metadata: ["secrets": "\(report.sealedFromPlaintext)", "key_id": "\(keyring.currentKeyID)"])
        }
        let older = report.sealedByKeyID.filter { $0.key != keyring.currentKeyID }
        if !older.isEmpty {
            logger.notice(
                "Some secrets are sealed under an older key; `roster secrets rotate` re-seals them under the current one",
                metadata: ["key_ids": "\(older.keys.sorted().joined(separator: ","))", "secrets": "\(older.values.reduce(0, +))"])
        }
    }
}
