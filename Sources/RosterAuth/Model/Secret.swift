import Crypto
public import Foundation
import SCIM

/// A bearer credential: a SCIM token (`scim_…`), an admin API key (`radm_…`), a refresh token (`rrt_…`) or a
/// setup link's secret (`rset_…`).
///
/// It never prints itself: `description` shows only the kind and display prefix, so a secret
/// that reaches a log line or an error message by accident is still not disclosed.
public struct Secret: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public enum Kind: String, Sendable {
        case scimToken = "scim_"
        case adminKey = "radm_"
        /// An admin session's refresh token.
        case refreshToken = "rrt_"
        /// A setup link's secret: one tenant's setup API, nothing else.
        case setupLink = "rset_"
    }

    public let kind: Kind
    private let value: String

    /// A new secret: the kind's prefix then 32 random bytes, URL-safe base64 without padding (43 characters).
    public static func generate(_ kind: Kind) -> Secret {
        let key = SymmetricKey(size: .bits256)
        let random = key.withUnsafeBytes { Data($0) }
        return Secret(kind: kind, value: kind.rawValue + Base64URL.encode(random))
    }

    /// A credential as a client presented it; nil when it has neither prefix.
    public init?(presented: String) {
        guard let kind = [Kind.scimToken, .adminKey, .refreshToken, .setupLink].first(where: { presented.hasPrefix($0.rawValue) }),
            presented.count > kind.rawValue.count + 8, presented.count <= 256
        else { return nil }
        self.init(kind: kind, value: presented)
    }

    private init(kind: Kind, value: String) {
        self.kind = kind
        self.value = value
    }

    /// SHA-256 of the whole secret: the only form the database ever holds.
    public var hash: Data { Data(SHA256.hash(data: Data(value.utf8))) }

    /// What admins see in listings to recognise a secret: the kind prefix and the next 6 characters.
    public var displayPrefix: String { String(value.prefix(kind.rawValue.count + 6)) }

    /// The secret itself, for the single response or CLI output that hands it to its owner.
    public func reveal() -> String { value }

    public var description: String { "\(displayPrefix)… (redacted)" }
    public var debugDescription: String { description }

}

/// The operator's key from configuration (`ROSTER_ADMIN_KEY`): global, all scopes, never stored.
public struct BootstrapAdminKey: Sendable, CustomStringConvertible {
    /// Shorter keys are refused at start: they could be guessed.
    public static let minimumLength = 32
    private let hash: Data

    public init?(_ key: String) {
        guard key.count >= Self.minimumLength else { return nil }
        hash = Data(SHA256.hash(data: Data(key.utf8)))
    }

    /// Compares hashes in constant time, so response timing says nothing about the key.
    public func matches(_ presented: String) -> Bool {
        let other = Data(SHA256.hash(data: Data(presented.utf8)))
        var difference: UInt8 = 0
        for (a, b) in zip(hash, other) { difference |= a ^ b }
        return difference == 0
    }

    public var description: String { "bootstrap admin key (redacted)" }
}
