/// RFC 7643 §7: the characteristics of one attribute, as a schema document declares them.
public struct SchemaAttribute: Sendable, Codable, Hashable {
    public enum DataType: String, Sendable, Codable {
        case string, boolean, decimal, integer, dateTime, reference, complex, binary
    }
    public enum Mutability: String, Sendable, Codable {
        case readOnly, readWrite, immutable, writeOnly
    }
    public enum Returned: String, Sendable, Codable {
        case always, never, `default`, request
    }
    public enum Uniqueness: String, Sendable, Codable {
        case none, server, global
    }

    public var name: String
    public var type: DataType
    public var multiValued: Bool
    public var description: String?
    public var required: Bool
    public var caseExact: Bool
    public var mutability: Mutability
    public var returned: Returned
    public var uniqueness: Uniqueness
    public var canonicalValues: [String]?
    public var referenceTypes: [String]?
    public var subAttributes: [SchemaAttribute]?

    public init(
        name: String, type: DataType, multiValued: Bool = false, description: String? = nil,
        required: Bool = false, caseExact: Bool = false, mutability: Mutability = .readWrite,
        returned: Returned = .default, uniqueness: Uniqueness = .none, canonicalValues: [String]? = nil,
        referenceTypes: [String]? = nil, subAttributes: [SchemaAttribute]? = nil
    ) {
        self.name = name
        self.type = type
        self.multiValued = multiValued
        self.description = description
        self.required = required
        self.caseExact = caseExact
        self.mutability = mutability
        self.returned = returned
        self.uniqueness = uniqueness
        self.canonicalValues = canonicalValues
        self.referenceTypes = referenceTypes
        self.subAttributes = subAttributes
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        type = try c.decode(DataType.self, forKey: .type)
        multiValued = try c.decodeIfPresent(Bool.self, forKey: .multiValued) ?? false
        description = try c.decodeIfPresent(String.self, forKey: .description)
        required = try c.decodeIfPresent(Bool.self, forKey: .required) ?? false
        caseExact = try c.decodeIfPresent(Bool.self, forKey: .caseExact) ?? false
        mutability = try c.decodeIfPresent(Mutability.self, forKey: .mutability) ?? .readWrite
        returned = try c.decodeIfPresent(Returned.self, forKey: .returned) ?? .default
        uniqueness = try c.decodeIfPresent(Uniqueness.self, forKey: .uniqueness) ?? .none
        canonicalValues = try c.decodeIfPresent([String].self, forKey: .canonicalValues)
        referenceTypes = try c.decodeIfPresent([String].self, forKey: .referenceTypes)
        subAttributes = try c.decodeIfPresent([SchemaAttribute].self, forKey: .subAttributes)
    }

    /// Sub-attribute by name; SCIM attribute names are case-insensitive (RFC 7643 §2.1).
    public func subAttribute(named name: String) -> SchemaAttribute? {
        subAttributes?.first { $0.name.caseInsensitiveEquals(name) }
    }
}

/// RFC 7643 §7: a schema document such as `urn:ietf:params:scim:schemas:core:2.0:User`.
public struct Schema: Sendable, Codable, Hashable {
    public var id: String
    public var name: String?
    public var description: String?
    public var attributes: [SchemaAttribute]

    public init(id: String, name: String?, description: String?, attributes: [SchemaAttribute]) {
        self.id = id
        self.name = name
        self.description = description
        self.attributes = attributes
    }

    public func attribute(named name: String) -> SchemaAttribute? {
        attributes.first { $0.name.caseInsensitiveEquals(name) }
    }
}

extension String {
    /// SCIM attribute names and URNs compare case-insensitively (RFC 7643 §2.1).
    public func caseInsensitiveEquals(_ other: String) -> Bool {
        count == other.count && lowercased() == other.lowercased()
    }
}
