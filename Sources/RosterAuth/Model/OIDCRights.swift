public import Foundation

/// The rights a trusted issuer's subject held at its latest verified token (0014_owned_keys_and_login_throttle.sql):
/// Roster cannot ask the issuer again without a token, so a key that subject made acts within these, until `validUntil`.
public struct OIDCRights: Sendable, Equatable {
    /// "issuer subject".
    public var subject: String
    public var grants: AdminGrants
    public var validUntil: Date

    public init(subject: String, grants: AdminGrants, validUntil: Date) {
        self.subject = subject
        self.grants = grants
        self.validUntil = validUntil
    }
}
