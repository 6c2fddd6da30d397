import Foundation

/// Validates POST and PUT bodies against a resource type's schemas (RFC 7643 §2, §7; RFC 7644 §3.3, §3.5.1).
///
/// The result is the canonical resource body: attribute names spelled as the schema spells them,
/// canonical values in their declared case, readOnly attributes and nulls dropped, extension
/// attributes under their schema URN, and `schemas` listing exactly the schemas present.
/// `id` and `meta` are the server's and never come from the client.
public struct ResourceValidator: Sendable {
    public let resourceType: ResourceType

    public init(resourceType: ResourceType) {
        self.resourceType = resourceType
    }

    /// Common attributes every resource has (RFC 7643 §3.1); `externalId` is the only writable one.
    static let externalId = SchemaAttribute(name: "externalId", type: .string, caseExact: true)

    /// - Parameter existing: the stored body when replacing (PUT), so immutable attributes can be enforced.
    public func validate(_ input: JSONValue, existing: [String: JSONValue]? = nil) throws(ScimError) -> [String: JSONValue] {
        guard case .object(let object) = input else {
            throw .invalidSyntax("The request body must be a JSON object, not \(input.typeName).")
        }
        try checkDeclaredSchemas(object["schemas"] ?? object.first { $0.key.caseInsensitiveEquals("schemas") }?.value)

        var core: [String: JSONValue] = [:]
        var extensions: [String: [String: JSONValue]] = [:]
        for (key, value) in object {
            if key.caseInsensitiveEquals("schemas") || key.caseInsensitiveEquals("id") || key.caseInsensitiveEquals("meta") {
                continue  // RFC 7643 §3.1: id and meta are assigned by the service provider.
            }
            if key.caseInsensitiveEquals("externalId") {
                if let value = try check(value, against: Self.externalId, path: "externalId") { core["externalId"] = value }
                continue
            }
            if let ext = resourceType.extension(urn: key) {
                guard case .object(let extObject) = value else {
                    if value.isNull { continue }
                    throw .invalidValue("\(ext.schema.id) must be an object of its attributes.")
                }
                let validated = try validateAttributes(extObject, of: ext.schema, pathPrefix: ext.schema.id + ":")
                if !validated.isEmpty { extensions[ext.schema.id, default: [:]].merge(validated) { _, new in new } }
                continue
            }
            if let (schema, name) = qualified(key) {
                guard let attribute = schema.attribute(named: name) else {
                    throw .invalidValue("Unknown attribute '\(key)'.")
                }
                if let checked = try check(value, against: attribute, path: key) {
                    if schema.id == resourceType.schema.id {
                        core[attribute.name] = checked
                    } else {
                        extensions[schema.id, default: [:]][attribute.name] = checked
                    }
                }
                continue
            }
            guard let attribute = resourceType.schema.attribute(named: key) else {
                throw .invalidValue("Unknown attribute '\(key)' for resource type \(resourceType.name).")
            }
            if let checked = try check(value, against: attribute, path: attribute.name) {
                core[attribute.name] = checked
            }
        }

        for ext in resourceType.extensions where ext.required && extensions[ext.schema.id] == nil {
            throw .invalidValue("The extension \(ext.schema.id) is required.")
        }
        try requireAttributes(of: resourceType.schema, in: core, prefix: "")
        for (urn, attributes) in extensions {
            if let schema = resourceType.extension(urn: urn)?.schema {
                try requireAttributes(of: schema, in: attributes, prefix: urn + ":")
            }
        }
        var body = core
        for (urn, attributes) in extensions { body[urn] = .object(attributes) }
        body["schemas"] = .array(
            ([resourceType.schema.id] + resourceType.extensions.map(\.schema.id).filter { extensions[$0] != nil })
                .map(JSONValue.string)
        )
        if let existing { try enforceImmutable(new: body, existing: existing) }
        try IndexedAttributeLimit.check(body, of: resourceType.name)
        return body
    }

    /// URNs a client lists in `schemas` that name no schema of its resource, accepted and dropped: Entra ID's create-group
    /// request lists its own group marker beside the core schema (learn.microsoft.com, "Develop and plan provisioning for
    /// a SCIM endpoint", Create Group).
    static let clientMarkers: [String: [String]] = [
        "Group": ["http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"]
    ]

    /// RFC 7643 §3: `schemas` is required and names only the core schema and known extensions (and client markers).
    private func checkDeclaredSchemas(_ value: JSONValue?) throws(ScimError) {
        guard let value, case .array(let items) = value else {
            throw .invalidSyntax("'schemas' is required and must list \(resourceType.schema.id).")
        }
        var urns: [String] = []
        for item in items {
            guard let urn = item.stringValue else { throw .invalidSyntax("'schemas' must be an array of schema URNs.") }
            if urn.caseInsensitiveEquals(resourceType.schema.id) {
                urns.append(resourceType.schema.id)
            } else if let ext = resourceType.extension(urn: urn) {
                urns.append(ext.schema.id)
            } else if Self.clientMarkers[resourceType.name]?.contains(where: urn.caseInsensitiveEquals) == true {
                continue  // not a schema of the resource: dropped, as `schemas` is rebuilt from what is present
            } else {
                throw .invalidSyntax("Unknown schema '\(urn)' for resource type \(resourceType.name).")
            }
        }
        guard urns.contains(resourceType.schema.id) else {
            throw .invalidSyntax("'schemas' must include \(resourceType.schema.id).")
        }
    }

    /// A key written as `urn:…:User:userName` names an attribute of that schema.
    private func qualified(_ key: String) -> (Schema, String)? {
        guard key.hasPrefix("urn:"), let colon = key.lastIndex(of: ":") else { return nil }
        let urn = String(key[..<colon])
        let name = String(key[key.index(after: colon)...])
        if urn.caseInsensitiveEquals(resourceType.schema.id) { return (resourceType.schema, name) }
        if let ext = resourceType.extension(urn: urn) { return (ext.schema, name) }
        return nil
    }

    private func validateAttributes(
        _ object: [String: JSONValue], of schema: Schema, pathPrefix: String
    ) throws(ScimError) -> [String: JSONValue] {
        var result: [String: JSONValue] = [:]
        for (key, value) in object {
            guard let attribute = schema.attribute(named: key) else {
                throw .invalidValue("Unknown attribute '\(pathPrefix)\(key)'.")
            }
            if let checked = try check(value, against: attribute, path: pathPrefix + attribute.name) {
                result[attribute.name] = checked
            }
        }
        return result
    }

    /// Returns the canonical value, or nil when the attribute is to be left unassigned
    /// (null, empty, readOnly, or writeOnly that Roster never stores).
    func check(_ value: JSONValue, against attribute: SchemaAttribute, path: String) throws(ScimError) -> JSONValue? {
        if value.isNull { return nil }
        // RFC 7643 §7: readOnly values from a client are ignored, not an error.
        if attribute.mutability == .readOnly { return nil }
        // Roster keeps no credentials: writeOnly values (password) are type-checked, then discarded.
        if attribute.mutability == .writeOnly && !attribute.multiValued {
            _ = try checkSingle(value, against: attribute, path: path)
            return nil
        }
        if attribute.multiValued {
            guard case .array(let items) = value else {
                throw .invalidValue("'\(path)' is multi-valued and must be an array, not \(value.typeName).")
            }
            var checked: [JSONValue] = []
            var seen = Set<JSONValue>()
            var primaries = 0
            for item in items {
                guard let element = try checkSingle(item, against: attribute, path: path) else { continue }
                if element["primary"]?.boolValue == true { primaries += 1 }
                // Linear, not quadratic: a group PUT may carry 100 000 members.
                if seen.insert(element).inserted { checked.append(element) }
            }
            // RFC 7643 §2.4: the primary attribute value "true" MUST appear no more than once.
            if primaries > 1 { throw .invalidValue("Only one value of '\(path)' may be primary.") }
            return checked.isEmpty ? nil : .array(checked)
        }
        return try checkSingle(value, against: attribute, path: path)
    }

    private func checkSingle(_ value: JSONValue, against attribute: SchemaAttribute, path: String) throws(ScimError) -> JSONValue? {
        if value.isNull { return nil }
        switch attribute.type {
        case .complex:
            guard case .object(let object) = value else {
                throw .invalidValue("'\(path)' must be an object, not \(value.typeName).")
            }
            var result: [String: JSONValue] = [:]
            for (key, subValue) in object {
                guard let sub = attribute.subAttribute(named: key) else {
                    throw .invalidValue("Unknown sub-attribute '\(path).\(key)'.")
                }
                if subValue.isNull || sub.mutability == .readOnly { continue }
                if let checked = try checkSingle(subValue, against: sub, path: "\(path).\(sub.name)") {
                    result[sub.name] = checked
                }
            }
            if result.isEmpty { return nil }
            for sub in attribute.subAttributes ?? [] where sub.required && sub.mutability != .readOnly && result[sub.name] == nil {
                throw .invalidValue("'\(path).\(sub.name)' is required.")
            }
            return .object(result)
        case .string, .reference, .binary, .dateTime:
            guard case .string(let string) = value else {
                throw .invalidValue("'\(path)' must be a string, not \(value.typeName).")
            }
            // PostgreSQL text and jsonb cannot hold U+0000; no directory value needs it.
            if string.unicodeScalars.contains("\u{0}") {
                throw .invalidValue("'\(path)' contains a NUL character.")
            }
            if attribute.type == .dateTime && SCIMDate.parse(string) == nil {
                throw .invalidValue("'\(path)' must be an RFC 3339 date-time.")
            }
            if attribute.type == .binary && Data(base64Encoded: string) == nil {
                throw .invalidValue("'\(path)' must be base64-encoded binary.")
            }
            if let canonical = attribute.canonicalValues, !canonical.isEmpty {
                guard let match = canonical.first(where: { $0.caseInsensitiveEquals(string) }) else {
                    throw .invalidValue("'\(path)' must be one of \(canonical.joined(separator: ", ")); got '\(string)'.")
                }
                return .string(match)
            }
            return .string(string)
        case .boolean:
            switch value {
            case .bool: return value
            // Entra ID sends booleans as "True"/"False" strings.
            case .string(let s) where s.lowercased() == "true": return .bool(true)
            case .string(let s) where s.lowercased() == "false": return .bool(false)
            default: throw .invalidValue("'\(path)' must be a boolean, not \(value.typeName).")
            }
        case .integer:
            switch value {
            case .integer: return value
            case .decimal(let d) where d.rounded() == d && abs(d) < 9.0e15: return .integer(Int(d))
            default: throw .invalidValue("'\(path)' must be an integer, not \(value.typeName).")
            }
        case .decimal:
            switch value {
            case .decimal: return value
            case .integer(let i): return .decimal(Double(i))
            default: throw .invalidValue("'\(path)' must be a number, not \(value.typeName).")
            }
        }
    }

    private func requireAttributes(of schema: Schema, in object: [String: JSONValue], prefix: String) throws(ScimError) {
        for attribute in schema.attributes where attribute.required && attribute.mutability != .readOnly {
            if object[attribute.name] == nil {
                throw .invalidValue("'\(prefix)\(attribute.name)' is required.")
            }
            // An empty or blank string is no value: a user without a userName, a group without a displayName.
            if case .string(let text)? = object[attribute.name], text.allSatisfy(\.isWhitespace) {
                throw .invalidValue("'\(prefix)\(attribute.name)' is required and must not be empty.")
            }
        }
    }

    /// RFC 7643 §2.2: an immutable attribute, once set, may only be sent again with the same value.
    private func enforceImmutable(new: [String: JSONValue], existing: [String: JSONValue]) throws(ScimError) {
        func compare(_ schema: Schema, _ new: [String: JSONValue]?, _ old: [String: JSONValue]?, prefix: String) throws(ScimError) {
            for attribute in schema.attributes where attribute.mutability == .immutable {
                guard let oldValue = old?[attribute.name] else { continue }
                if let newValue = new?[attribute.name], newValue != oldValue {
                    throw .mutability("'\(prefix)\(attribute.name)' is immutable and cannot be changed.")
                }
            }
        }
        try compare(resourceType.schema, new, existing, prefix: "")
        for ext in resourceType.extensions {
            try compare(ext.schema, new[ext.schema.id]?.objectValue, existing[ext.schema.id]?.objectValue, prefix: ext.schema.id + ":")
        }
    }
}
