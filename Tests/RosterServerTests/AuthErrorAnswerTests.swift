import Logging
import RosterAuth
@testable import RosterServer
import Testing

/// RosterAuth's refusals carry no HTTP status; ErrorMiddleware gives each kind one answer, in both error formats.
@Suite("AuthError becomes one HTTP answer per kind, and an unusable signing key names nothing to the client")
struct AuthErrorAnswerTests {
    static let logger = Logger(label: "test")

    @Test("each kind's status and code; the message is the rule's, except for the operator's own problem", arguments: [
        (AuthError.Kind.unauthorized, 401, "unauthorized", true),
        (.forbidden, 403, "forbidden", true),
        (.invalidRequest, 400, "invalid_request", true),
        (.unavailable, 503, "unavailable", false),
    ])
    func answer(kind: AuthError.Kind, status: Int, code: String, showsMessage: Bool) {
        let error = AuthError(kind, "Signing key k-42 has no public key.", reason: "bad_signing_key")
        let problem = Problem(error, logger: Self.logger)
        #expect(problem.status == status)
        #expect(problem.code == code)
        #expect(problem.scimType == nil)
        #expect(problem.message.contains("k-42") == showsMessage)
    }
}
