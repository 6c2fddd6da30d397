package import Crypto
import Foundation

/// A webhook signing secret in the Standard Webhooks form: `whsec_` and the base64 of the key.
public struct WebhookSecret: Sendable, Equatable, CustomStringConvertible {
    public static let prefix = "whsec_"
    /// The text a subscription stores and, once, shows.
    public let text: String
    let keyBytes: Data

    /// The HMAC key (RosterFeed signs with it).
    package var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    public init?(_ text: String) {
        guard text.hasPrefix(Self.prefix), let key = Data(base64Encoded: String(text.dropFirst(Self.prefix.count))),
            (16...64).contains(key.count)
        else { return nil }
        self.text = text
        self.keyBytes = key
    }

    /// 32 random bytes (the specification allows 24 to 64).
    public static func generate() -> WebhookSecret {
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        return WebhookSecret(prefix + bytes.base64EncodedString())!
    }

    public static func == (lhs: WebhookSecret, rhs: WebhookSecret) -> Bool { lhs.text == rhs.text }

    /// Never the secret itself: it must not reach a log line.
    public var description: String { "whsec_…" }
}
