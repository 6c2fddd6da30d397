public import Foundation

/// RFC 7644 §3.12 error `scimType` values.
public enum ScimType: String, Sendable, Codable {
    case invalidFilter, tooMany, uniqueness, mutability, invalidSyntax, invalidPath, noTarget
    case invalidValue, invalidVers, sensitive, tooLarge
    /// RFC 9865 cursor pagination.
    case invalidCursor, expiredCursor, invalidCount
}

/// A SCIM protocol error: becomes the `urn:ietf:params:scim:api:messages:2.0:Error` response.
public struct ScimError: Error, Sendable, Equatable {
    public static let schema = "urn:ietf:params:scim:api:messages:2.0:Error"

    public var status: Int
    public var scimType: ScimType?
    public var detail: String

    public init(status: Int, scimType: ScimType? = nil, detail: String) {
        self.status = status
        self.scimType = scimType
        self.detail = detail
    }

    public static func invalidSyntax(_ detail: String) -> ScimError { .init(status: 400, scimType: .invalidSyntax, detail: detail) }
    public static func invalidValue(_ detail: String) -> ScimError { .init(status: 400, scimType: .invalidValue, detail: detail) }
    public static func invalidFilter(_ detail: String) -> ScimError { .init(status: 400, scimType: .invalidFilter, detail: detail) }
    public static func mutability(_ detail: String) -> ScimError { .init(status: 400, scimType: .mutability, detail: detail) }
    public static func uniqueness(_ detail: String) -> ScimError { .init(status: 409, scimType: .uniqueness, detail: detail) }
    public static func badRequest(_ detail: String) -> ScimError { .init(status: 400, detail: detail) }
    public static func notFound(_ detail: String) -> ScimError { .init(status: 404, detail: detail) }
    /// A resource of `type` ("User", "Group") that this tenant does not hold.
    public static func resourceNotFound(_ type: String, _ id: UUID) -> ScimError { .notFound("\(type) \(id.uuidString.lowercased()) not found.") }
    public static func unauthorized(_ detail: String) -> ScimError { .init(status: 401, detail: detail) }
    public static func forbidden(_ detail: String) -> ScimError { .init(status: 403, detail: detail) }
    public static func tooLarge(_ detail: String) -> ScimError { .init(status: 413, scimType: .tooLarge, detail: detail) }
    public static func preconditionFailed(_ detail: String) -> ScimError { .init(status: 412, detail: detail) }

    /// The error as its SCIM JSON body.
    public var body: JSONValue {
        var object: [String: JSONValue] = [
            "schemas": [.string(Self.schema)],
            "status": .string(String(status)),
            "detail": .string(detail),
        ]
        if let scimType { object["scimType"] = .string(scimType.rawValue) }
        return .object(object)
    }
}
