/// An attribute path in a filter or PATCH (RFC 7644 §3.10): `[schema URN:]attribute[.subAttribute]`.
public struct AttributePath: Sendable, Hashable, CustomStringConvertible {
    public var schema: String?
    public var attribute: String
    public var subAttribute: String?

    public init(schema: String? = nil, attribute: String, subAttribute: String? = nil) {
        self.schema = schema
        self.attribute = attribute
        self.subAttribute = subAttribute
    }

    public var description: String {
        (schema.map { $0 + ":" } ?? "") + attribute + (subAttribute.map { "." + $0 } ?? "")
    }
}

/// A parsed SCIM filter (RFC 7644 §3.4.2.2).
public indirect enum Filter: Sendable, Hashable {
    public enum ComparisonOperator: String, Sendable, CaseIterable {
        case eq, ne, co, sw, ew, gt, ge, lt, le
    }
    case comparison(AttributePath, ComparisonOperator, JSONValue)
    case present(AttributePath)
    /// `emails[type eq "work"]`: some element of the multi-valued attribute matches the inner
    /// filter, whose paths name the element's sub-attributes.
    case valuePath(AttributePath, Filter)
    case and(Filter, Filter)
    case or(Filter, Filter)
    case not(Filter)
}
