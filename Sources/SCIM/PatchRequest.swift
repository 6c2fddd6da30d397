import Foundation
/// A parsed PATCH request body (RFC 7644 §3.5.2).
public struct PatchRequest: Sendable {
    public static let schema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    /// No IdP sends more than a few hundred operations in one request; more is refused, not attempted.
    public static let maximumOperations = 1000

    public enum Op: String, Sendable {
        case add, remove, replace
    }

    public struct Operation: Sendable {
        public var op: Op
        public var path: PatchPath?
        public var value: JSONValue?
    }

    public var operations: [Operation]

    public init(_ body: JSONValue) throws(ScimError) {
        guard case .object(let object) = body else { throw .invalidSyntax("A PATCH body must be a JSON object.") }
        let schemas = object.first { $0.key.caseInsensitiveEquals("schemas") }?.value.arrayValue ?? []
        guard schemas.contains(where: { $0.stringValue?.caseInsensitiveEquals(Self.schema) == true }) else {
            throw .invalidSyntax("A PATCH body's 'schemas' must be [\"\(Self.schema)\"].")
        }
        guard let list = object.first(where: { $0.key.caseInsensitiveEquals("Operations") })?.value.arrayValue else {
            throw .invalidSyntax("A PATCH body needs an 'Operations' array.")
        }
        // RFC 7644 §3.5.2: the body contains one or more patch operations.
        guard !list.isEmpty else { throw .invalidSyntax("A PATCH body's 'Operations' must hold at least one operation.") }
        guard list.count <= Self.maximumOperations else {
            throw .invalidValue("A PATCH request may carry at most \(Self.maximumOperations) operations.")
        }
        var operations: [Operation] = []
        for item in list {
            guard case .object(let fields) = item else { throw .invalidSyntax("Each PATCH operation must be an object.") }
            func field(_ name: String) -> JSONValue? { fields.first { $0.key.caseInsensitiveEquals(name) }?.value }
            // Entra ID sends "Add" / "Replace" / "Remove": operation names are case-insensitive.
            guard let name = field("op")?.stringValue, let op = Op(rawValue: name.lowercased()) else {
                throw .invalidSyntax("Each PATCH operation needs 'op': add, remove or replace.")
            }
            var path: PatchPath?
            if let value = field("path"), !value.isNull {
                guard let text = value.stringValue else { throw .init(status: 400, scimType: .invalidPath, detail: "'path' must be a string.") }
                if !text.trimmingCharacters(in: .whitespaces).isEmpty { path = try PatchPath.parse(text) }
            }
            let value = field("value")
            if op != .remove && (value == nil || value == .null) {
                throw .invalidValue("The '\(op.rawValue)' operation needs a 'value'.")
            }
            if op == .remove && path == nil {
                throw .init(status: 400, scimType: .noTarget, detail: "A 'remove' operation needs a 'path'.")
            }
            operations.append(Operation(op: op, path: path, value: value))
        }
        self.operations = operations
    }
}

/// A PATCH target (RFC 7644 §3.5.2 PATH): `attr`, `attr.sub`, `attr[filter]`, `attr[filter].sub`,
/// each optionally prefixed by a schema URN.
public struct PatchPath: Sendable, Equatable, CustomStringConvertible {
    public var attribute: AttributePath
    public var filter: Filter?
    /// The sub-attribute after a value filter: the `value` of `emails[type eq "work"].value`.
    public var filteredSubAttribute: String?
    public var text: String

    public var description: String { text }

    public static func parse(_ text: String) throws(ScimError) -> PatchPath {
        func invalid(_ why: String) -> ScimError { .init(status: 400, scimType: .invalidPath, detail: "Invalid path '\(text)': \(why)") }
        guard let open = text.firstIndex(of: "[") else {
            do {
                return PatchPath(attribute: try FilterParser.attributePath(text), text: text)
            } catch {
                throw invalid("not an attribute path.")
            }
        }
        guard let close = text.lastIndex(of: "]"), close > open else { throw invalid("missing ']'.") }
        let head = String(text[..<open])
        let inner = String(text[text.index(after: open)..<close])
        let tail = text[text.index(after: close)...]
        let attribute: AttributePath
        do {
            attribute = try FilterParser.attributePath(head)
        } catch {
            throw invalid("'\(head)' is not an attribute.")
        }
        guard attribute.subAttribute == nil else { throw invalid("a value filter applies to an attribute, not a sub-attribute.") }
        let filter: Filter
        do {
            filter = try FilterParser.parse(inner)
        } catch {
            throw .init(status: 400, scimType: .invalidFilter, detail: "Invalid value filter in path '\(text)': \(error.detail)")
        }
        var sub: String?
        if !tail.isEmpty {
            guard tail.hasPrefix("."), tail.count > 1, !tail.dropFirst().contains("."), !tail.dropFirst().contains("[") else {
                throw invalid("only '.subAttribute' may follow the value filter.")
            }
            sub = String(tail.dropFirst())
        }
        return PatchPath(attribute: attribute, filter: filter, filteredSubAttribute: sub, text: text)
    }
}
