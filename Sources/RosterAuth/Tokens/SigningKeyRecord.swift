public import Foundation

/// The private half of a signing key. It never prints itself, so a key that reaches a log line or an
/// error message by accident is still not disclosed.
public struct SigningKeyMaterial: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    private let bytes: Data

    public init(_ bytes: Data) {
        self.bytes = bytes
    }

    /// The raw key, for the one place that turns it into a signer.
    public func reveal() -> Data { bytes }

    public var description: String { "signing key (redacted)" }
    public var debugDescription: String { description }
}

/// One row of `signing_keys`: an Ed25519 key that signs (current) or only verifies (retired) admin access tokens.
public struct SigningKeyRecord: Sendable, Equatable {
    public var kid: String
    public var privateKey: SigningKeyMaterial
    /// The public JWK as JSON text: what the JWKS publishes, and all a verifier needs.
    public var publicJWK: String
    public var created: Date
    /// When it stopped signing; nil for the current key.
    public var retired: Date?

    public init(kid: String, privateKey: SigningKeyMaterial, publicJWK: String, created: Date, retired: Date?) {
        self.kid = kid
        self.privateKey = privateKey
        self.publicJWK = publicJWK
        self.created = created
        self.retired = retired
    }

    public var isCurrent: Bool { retired == nil }
}

/// A key made by the caller (the store holds keys, it does not make them).
public struct NewSigningKey: Sendable {
    public var kid: String
    public var privateKey: SigningKeyMaterial
    public var publicJWK: String

    public init(kid: String, privateKey: SigningKeyMaterial, publicJWK: String) {
        self.kid = kid
        self.privateKey = privateKey
        self.publicJWK = publicJWK
    }
}

/// Where the signing keys every replica shares are kept (RosterStore's `SigningKeyRepository`).
public protocol SigningKeyStore: Sendable {
    /// The current key and every key retired after `cutoff`, newest first.
    func verifiable(retiredAfter cutoff: Date) async throws -> [SigningKeyRecord]
    /// Stores `key` as the current one unless there is one already; whether it was stored.
    @discardableResult func insertIfNoCurrent(_ key: NewSigningKey) async throws -> Bool
    /// Retires the current key for `key` and deletes keys retired before `cutoff`.
    func rotate(to key: NewSigningKey, at now: Date, deletingRetiredBefore cutoff: Date) async throws
}
