public import Foundation

/// How this process stores the secrets Roster must use, not only check (webhook signing secrets, the access-token
/// signing keys, the cursor key): sealed with the operator's key, as they are (the operator said so), or not at all.
public enum SecretsAtRest: Sendable, CustomStringConvertible {
    /// Sealed with AES-256-GCM under the keyring's current key; older keys still open.
    case encrypted(SecretKeyring)
    /// `ROSTER_ALLOW_PLAINTEXT_SECRETS=true`: stored as they are; a sealed value is an error (there is no key to open it).
    case plaintext
    /// No key and no opt-out: reading or writing a secret is an error, so nothing is ever stored in plaintext by omission.
    case unconfigured

    /// The message for a process that needs a secret and was given no key.
    public static let keyRequired = """
        Roster stores webhook secrets and token signing keys encrypted: set ROSTER_SECRET_KEY (or ROSTER_SECRET_KEY_FILE) \
        to <key id>:<base64 of 32 bytes>, e.g. from `roster secrets generate-key`, or set ROSTER_ALLOW_PLAINTEXT_SECRETS=true \
        to store them unencrypted.
        """

    /// The column values for `secret`: exactly one of them is set.
    public func store(_ secret: Data, for purpose: SecretPurpose) throws(SecretsAtRestError) -> (plaintext: Data?, sealed: Data?) {
        switch self {
        case .encrypted(let keyring): (nil, keyring.seal(secret, for: purpose))
        case .plaintext: (secret, nil)
        case .unconfigured: throw .notConfigured
        }
    }

    /// The secret a row holds in either form. A plaintext row is read under a key too: it is one written before
    /// the key was configured (or by an older replica), which the next start or `roster secrets rotate` seals.
    public func reveal(plaintext: Data?, sealed: Data?, for purpose: SecretPurpose) throws(SecretsAtRestError) -> Data {
        switch (self, sealed) {
        case (.unconfigured, _): throw .notConfigured
        case (.encrypted(let keyring), let sealed?): return try keyring.open(sealed, for: purpose)
        case (.plaintext, let sealed?):
            let keyID = (try? SecretKeyring.keyID(of: sealed, for: purpose)) ?? "?"
            throw .keyMissing(keyID: keyID, purpose: purpose)
        case (_, nil):
            guard let plaintext else { throw .malformed(purpose: purpose) }
            return plaintext
        }
    }

    public var description: String {
        switch self {
        case .encrypted(let keyring): "encrypted (current key id \(keyring.currentKeyID))"
        case .plaintext: "plaintext (ROSTER_ALLOW_PLAINTEXT_SECRETS)"
        case .unconfigured: "unconfigured"
        }
    }
}

/// What a sealed value belongs to: part of its authenticated data, so a value moved to another row does not open.
public struct SecretPurpose: Sendable, Hashable, CustomStringConvertible {
    /// The row, as `<table>:<key>`; never secret itself, so errors and logs may name it.
    public let label: String

    public static func serverSecret(_ name: String) -> SecretPurpose { .init(label: "server_secrets:\(name)") }
    public static func signingKey(kid: String) -> SecretPurpose { .init(label: "signing_keys:\(kid)") }
    /// Both of a subscription's secrets (current and previous): a rotation moves the current one to `previous` in SQL.
    public static func webhook(tenant: UUID, id: UUID) -> SecretPurpose {
        .init(label: "webhook_subscriptions:\(tenant.uuidString.lowercased()):\(id.uuidString.lowercased())")
    }

    public var description: String { label }
}

/// Why a secret could not be stored or read. Names rows and key ids, never key material or a secret.
public enum SecretsAtRestError: Error, Sendable, Equatable, CustomStringConvertible {
    /// This process was given neither a key nor the plaintext opt-out.
    case notConfigured
    /// The value is sealed, and this process runs without a key.
    case keyMissing(keyID: String, purpose: SecretPurpose)
    /// The value is sealed with a key id the keyring does not hold.
    case unknownKey(keyID: String, purpose: SecretPurpose)
    /// The key id matches, but the value does not authenticate: another key under that id, or an altered or moved value.
    case cannotOpen(keyID: String, purpose: SecretPurpose)
    case malformed(purpose: SecretPurpose)

    public var description: String {
        switch self {
        case .notConfigured:
            SecretsAtRest.keyRequired
        case .keyMissing(let keyID, let purpose):
            "The secret of \(purpose) is encrypted with key id '\(keyID)', and no ROSTER_SECRET_KEY is configured."
        case .unknownKey(let keyID, let purpose):
            "The secret of \(purpose) is encrypted with key id '\(keyID)', which ROSTER_SECRET_KEY does not hold; add that key (after the current one)."
        case .cannotOpen(let keyID, let purpose):
            "The secret of \(purpose) does not open with key id '\(keyID)': ROSTER_SECRET_KEY holds another key under that id, or the stored value was altered or copied from another row."
        case .malformed(let purpose):
            "The secret of \(purpose) is not in a form this Roster stores."
        }
    }
}
