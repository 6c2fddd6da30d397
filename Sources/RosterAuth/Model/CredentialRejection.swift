/// Why a well-formed credential was refused, for the `roster_tokens_rejected_total` metric.
/// Asked only after authentication failed, so the hot path stays one indexed lookup.
public enum CredentialRejection: String, Sendable {
    case unknown, revoked, expired
}
