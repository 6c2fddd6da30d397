import Hummingbird
import RosterAuth
import RosterStore

/// The setup API's credential: a live setup link's secret as `Authorization: Bearer rset_…`, and nothing else.
/// An admin credential or a SCIM token is refused here by name, as a setup secret is everywhere else.
struct SetupLinkAuthentication: Sendable {
    let links: SetupLinkRepository

    static let required = "A setup link's secret is required: send 'Authorization: Bearer rset_…' (the part of the setup link after '#')."

    func link(for request: Request, metrics: RosterMetrics?) async throws -> SetupLinkPrincipal {
        func refuse(_ message: String, reason: String) -> AuthError {
            metrics?.recordRejection(expected: "setup_link", reason: reason)
            return AuthError(.unauthorized, message, reason: reason)
        }
        guard let presented = PresentedCredential.bearer(request) else {
            throw refuse(Self.required, reason: request.headers[.authorization] == nil ? "missing" : "malformed")
        }
        guard let secret = Secret(presented: presented), secret.kind == .setupLink else {
            throw refuse(
                "This route takes only a setup link's secret (rset_…): admin credentials and SCIM tokens do not work on the setup API.",
                reason: "wrong_credential_type")
        }
        guard let link = try await links.authenticate(secret) else {
            let reason = metrics == nil ? "unknown" : ((try? await links.rejection(of: secret))?.rawValue ?? "unknown")
            throw refuse("The setup link is invalid, expired or revoked: ask whoever sent it for a new one.", reason: reason)
        }
        return link
    }
}
