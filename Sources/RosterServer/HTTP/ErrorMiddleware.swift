import Foundation
import Hummingbird
import Logging
import NIOCore
import OpenAPIRuntime
import RosterAuth
import RosterStore
import SCIM

/// Turns every error into a JSON response, once: SCIM errors under `/scim`, admin errors elsewhere.
/// Nothing a client sends produces a 500; unexpected errors are logged and answered generically.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let (error, extraHeaders) = ErrorWithHeaders.unwrap(error)
            let scim = request.uri.path.hasPrefix("/scim/")
            let reading = request.method == .get || request.method == .head || request.uri.path.hasSuffix("/.search")
            let problem = Problem(error, reading: reading, logger: context.logger)
            var response = scim ? problem.scimResponse : problem.adminResponse
            if let error = error as? MethodNotAllowed {
                response.headers[.allow] = error.allowed.map(\.rawValue).joined(separator: ", ")
            }
            if let retryAfter = problem.retryAfter { response.headers[.retryAfter] = String(retryAfter) }
            if problem.status == 401 {
                response.headers[.wwwAuthenticate] = scim ? "Bearer realm=\"roster-scim\"" : "Bearer realm=\"roster-admin\""
            }
            response.headers.append(contentsOf: extraHeaders)
            return response
        }
    }
}

/// An error whose answer carries extra headers (a rate-limited request's `RateLimit` fields), rendered by ErrorMiddleware.
struct ErrorWithHeaders: Error {
    let error: any Error
    let headers: HTTPFields

    init(_ error: any Error, headers: HTTPFields) {
        self.error = error
        self.headers = headers
    }

    static func unwrap(_ error: any Error) -> (any Error, HTTPFields) {
        guard let wrapped = error as? ErrorWithHeaders else { return (error, [:]) }
        return (wrapped.error, wrapped.headers)
    }
}

/// One error, in the terms both error formats need.
struct Problem {
    var status: Int
    var scimType: ScimType?
    var code: String
    var message: String
    var retryAfter: Int?

    /// - Parameter reading: the request only reads (GET, HEAD, a search), which decides what a timed-out statement means.
    init(_ error: any Error, reading: Bool = false, logger: Logger) {
        switch error {
        case let error as ScimError:
            self.init(status: error.status, scimType: error.scimType, code: error.scimType?.rawValue ?? Self.code(error.status), message: error.detail)
        case let error as AdminError:
            self.init(status: Int(error.status.code), scimType: nil, code: error.code, message: error.message)
            retryAfter = error.retryAfter
        case let error as AuthError:
            switch error.kind {
            case .unauthorized: self.init(status: 401, scimType: nil, code: "unauthorized", message: error.message)
            case .forbidden: self.init(status: 403, scimType: nil, code: "forbidden", message: error.message)
            case .invalidRequest: self.init(status: 400, scimType: nil, code: "invalid_request", message: error.message)
            case .unavailable:
                // Roster's own state (its signing keys), not the client's request: named in the log only.
                logger.error("Identity state unusable", metadata: ["error": "\(error.message)"])
                self.init(status: 503, scimType: nil, code: "unavailable", message: "Sign-in is unavailable; try again shortly.")
            }
        case let error as StoreError:
            switch error {
            case .uniqueness(let constraint):
                self.init(status: 409, scimType: .uniqueness, code: "conflict", message: Self.uniquenessMessage(constraint))
            case .invalidReference(let detail):
                self.init(status: 400, scimType: .invalidValue, code: "invalid_request", message: detail)
            case .invalidValue(let detail):
                self.init(status: 400, scimType: .invalidValue, code: "invalid_request", message: "A value was refused: \(detail)")
            case .notFound(let detail):
                self.init(status: 404, scimType: nil, code: "not_found", message: "\(detail) not found.")
            case .versionMismatch:
                self.init(status: 412, scimType: nil, code: Self.code(412), message: error.description)
            case .invalidMembers(let detail), .invalidSort(let detail):
                self.init(client: .invalidValue, detail)
            case .invalidFilter(let detail):
                self.init(client: .invalidFilter, detail)
            case .invalidCursor(let detail):
                self.init(client: .invalidCursor, detail)
            case .expiredCursor(let detail):
                self.init(client: .expiredCursor, detail)
            case .invalidCount(let detail):
                self.init(client: .invalidCount, detail)
            case .tooMuch(let detail):
                // RFC 7644 §3.12 tooMany: more than the server is willing to process in one answer.
                self.init(client: .tooMany, detail)
            case .statementTimeout where reading:
                // RFC 7644 §3.12 tooMany: more than the server is willing to process; a narrower query may pass.
                logger.notice("A read ran past its statement limit")
                self.init(
                    status: 400, scimType: .tooMany, code: "query_too_expensive",
                    message: "The query ran past this server's time limit for one statement; narrow the filter or ask for fewer results.")
            case .statementTimeout:
                // A write waits on others' locks or has much to do: the client may retry, more slowly.
                logger.notice("A write ran past its statement limit")
                self.init(
                    status: 429, scimType: nil, code: "busy",
                    message: "The change ran past this server's time limit for one statement and was not made; retry after 1 s.")
                retryAfter = 1
            case .unavailable(let detail):
                logger.error("Database unavailable", metadata: ["error": "\(detail)"])
                self.init(status: 503, scimType: nil, code: "unavailable", message: "The database is unavailable; try again shortly.")
                // A restart or a failover takes seconds: nothing was done, and the same request may then succeed.
                retryAfter = 2
            }
        case let error as HTTPError:
            let status = Int(error.status.code)
            let message = error.body ?? Self.defaultMessage(status)
            self.init(status: status, scimType: status == 413 ? .tooLarge : nil, code: Self.code(status), message: message)
        case let error as SecretsAtRestError:
            // The operator's problem (a wrong or missing key), named in the log by row and key id; the client learns nothing of it.
            logger.error("A stored secret cannot be read", metadata: ["error": "\(error.description)"])
            self.init(status: 500, scimType: nil, code: "internal", message: "Internal server error.")
        case is NIOTooManyBytesError:
            self.init(status: 413, scimType: .tooLarge, code: "too_large", message: Self.defaultMessage(413))
        case let error as MethodNotAllowed:
            let methods = error.allowed.map(\.rawValue).joined(separator: ", ")
            self.init(status: 405, scimType: nil, code: "method_not_allowed", message: "This route takes only \(methods).")
        case let error as DecodingError:
            self.init(status: 400, scimType: .invalidSyntax, code: "invalid_request", message: Self.decodingMessage(error))
        case let error as ServerError:
            // The generated admin API wraps what its handlers throw, and its own request checks.
            let known = error.underlyingError is AdminError || error.underlyingError is StoreError || error.underlyingError is AuthError
                || error.underlyingError is DecodingError || error.underlyingError is NIOTooManyBytesError
            if known || error.httpStatus == .internalServerError {
                self.init(error.underlyingError, reading: reading, logger: logger)
            } else {
                let status = Int(error.httpStatus.code)
                self.init(status: status, scimType: nil, code: Self.code(status), message: error.causeDescription)
            }
        default:
            logger.error("Unhandled error", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            self.init(status: 500, scimType: nil, code: "internal", message: "Internal server error.")
        }
    }

    private init(status: Int, scimType: ScimType?, code: String, message: String) {
        self.status = status
        self.scimType = scimType
        self.code = code
        self.message = message
    }

    static func uniquenessMessage(_ constraint: String) -> String {
        switch constraint {
        case "users_user_name_key": "Another user of this tenant already has this userName (compared case-insensitively)."
        case "tenants_name_key": "A tenant with this name already exists."
        default: "The value conflicts with an existing resource."
        }
    }

    /// Names the offending field, never its value (a value could be a secret pasted in the wrong place).
    static func decodingMessage(_ error: DecodingError) -> String {
        let shape = "The request body does not have the expected JSON shape"
        let (path, problem): ([any CodingKey], String) =
            switch error {
            case .keyNotFound(let key, let context): (context.codingPath + [key], "is required")
            case .typeMismatch(_, let context), .valueNotFound(_, let context): (context.codingPath, "has the wrong type")
            case .dataCorrupted(let context): (context.codingPath, "is malformed")
            @unknown default: ([], "is malformed")
            }
        // `members[0].value`: an index follows its array's name without a dot.
        let field = path.reduce(into: "") { field, key in
            if let index = key.intValue { field += "[\(index)]" } else { field += (field.isEmpty ? "" : ".") + key.stringValue }
        }
        // No field: a whole body of the wrong shape, or a query parameter that does not parse (a date, a number).
        return field.isEmpty
            ? "A query parameter or the request body does not have the documented shape (see /api/v1/openapi.json)."
            : "\(shape): '\(field)' \(problem)."
    }

    static func defaultMessage(_ status: Int) -> String {
        switch status {
        case 404: "No such resource or route."
        case 405: "The method is not allowed on this route."
        case 413: "The request body is larger than \(ScimLimits.maxRequestBytes) bytes."
        default: HTTPResponse.Status(code: status).reasonPhrase
        }
    }

    /// A 400 the store's refusal maps to: the SCIM type is also the admin API's code, as for a `ScimError`.
    private init(client scimType: ScimType, _ detail: String) {
        self.init(status: 400, scimType: scimType, code: scimType.rawValue, message: detail)
    }

    static func code(_ status: Int) -> String {
        switch status {
        case 400: "invalid_request"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 406: "not_acceptable"
        case 409: "conflict"
        case 412: "precondition_failed"
        case 413: "too_large"
        case 415: "unsupported_media_type"
        case 429: "rate_limited"
        case 501: "not_implemented"
        default: "error"
        }
    }

    var scimError: ScimError { ScimError(status: status, scimType: scimType, detail: message) }

    var scimResponse: Response { ScimResponse.json(HTTPResponse.Status(code: status), scimError.body) }

    var adminResponse: Response {
        AdminResponse.json(
            HTTPResponse.Status(code: status),
            ["error": ["status": .integer(status), "code": .string(code), "message": .string(message)]])
    }
}
