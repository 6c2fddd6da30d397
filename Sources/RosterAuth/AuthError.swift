import Foundation

/// An identity decision that refuses a request: who may not do what, and why. RosterServer turns it into
/// an HTTP answer once (ErrorMiddleware); this module knows nothing of HTTP.
public struct AuthError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No credential, or one that proves nothing (401).
        case unauthorized
        /// A credential that holds too little for this (403).
        case forbidden
        /// A request the decision cannot be made for as sent (400).
        case invalidRequest
        /// Roster's own identity state cannot be used (no current signing key): the operator's problem, not the client's.
        case unavailable
    }

    public var kind: Kind
    /// Safe to log and to return: it names the rule, never a credential.
    public var message: String
    /// A short, fixed reason for metrics (`roster_tokens_rejected_total`).
    public var reason: String

    public init(_ kind: Kind, _ message: String, reason: String) {
        self.kind = kind
        self.message = message
        self.reason = reason
    }

    public var description: String { message }
}
